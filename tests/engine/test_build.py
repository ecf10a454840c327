"""The MarketState: no look-ahead, replay, errors, immutability and schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from engine.build import build_state, prepare, state_at
from engine.dataset import Dataset
from engine.demo import demo_dataset
from engine.errors import InputDataError, InsufficientHistoryError
from engine.state import MarketState


def truncated(dataset: Dataset, day: dt.date) -> Dataset:
    frame = dataset.frame.loc[: pd.Timestamp(day)]
    return Dataset(frame=frame, provenance=dataset.provenance, warnings=dataset.warnings)


def _comparable(state: MarketState) -> dict[str, object]:
    # Provenance records the file's own span; everything the engine computes must match.
    return state.model_dump(exclude={"provenance", "warnings"})


@pytest.fixture(scope="module")
def demo() -> Dataset:
    return demo_dataset()


@pytest.mark.parametrize("day", ["2022-06-01", "2023-07-14", "2024-08-05", "2025-03-03"])
def test_no_look_ahead_on_demo(demo: Dataset, day: str) -> None:
    d = dt.date.fromisoformat(day)
    full = state_at(prepare(demo), d)
    cut = state_at(prepare(truncated(demo, d)), d)
    assert _comparable(full) == _comparable(cut)


def test_no_look_ahead_on_real_data(raw_data_dir: Path) -> None:
    from engine.sources.csv_import import load_dataset

    data = load_dataset(
        raw_data_dir / "guydekowski_market-lab" / "IWM.csv",
        raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv",
        raw_data_dir / "squeezemetrics_dix" / "DIX.csv",
    )
    prepared = prepare(data)
    for day in (dt.date(2020, 3, 16), dt.date(2024, 8, 5)):
        assert _comparable(state_at(prepared, day)) == _comparable(
            state_at(prepare(truncated(data, day)), day)
        )


def test_weekend_as_of_uses_previous_session(demo: Dataset) -> None:
    assert build_state(demo, as_of=dt.date(2024, 8, 4)).as_of == dt.date(2024, 8, 2)


def test_as_of_out_of_range(demo: Dataset) -> None:
    with pytest.raises(InputDataError, match="ends on 2025-12-31"):
        build_state(demo, as_of=dt.date(2026, 1, 5))
    with pytest.raises(InsufficientHistoryError, match="starts on"):
        build_state(demo, as_of=dt.date(2000, 1, 3))
    with pytest.raises(InsufficientHistoryError, match="60 trading days"):
        build_state(demo, as_of=demo.frame.index[20].date())


def test_state_is_frozen_and_strict(demo: Dataset) -> None:
    state = build_state(demo)
    with pytest.raises(ValidationError):
        state.ticker = "SPY"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        MarketState.model_validate({**state.model_dump(), "surprise": 1})
    assert MarketState.model_validate_json(state.model_dump_json()) == state
    schema = MarketState.model_json_schema()
    assert schema["title"] == "MarketState" and "tomorrow" in schema["properties"]


def test_state_contents(demo: Dataset) -> None:
    state = build_state(demo)
    assert state.synthetic and state.warnings[0].startswith("SYNTHETIC DEMO DATA")
    assert len(state.rules) == 7
    for rule in state.rules:
        assert {s.horizon for s in rule.stats} == {1, 5}
        assert rule.conditions
    assert state.tomorrow.horizon == 1 and state.next_5_days.horizon == 5
    assert 0 < state.tomorrow.base_rate < 1
    assert len(state.inputs_hash) == 64
    assert {p.series for p in state.provenance} == {"prices", "vix", "gex", "dark_pool"}


def test_gaps_are_warned_and_stale_series_reported(demo: Dataset) -> None:
    frame = demo.frame.copy()
    frame.loc[frame.index[-6:], "vix"] = float("nan")
    from engine.dataset import assemble

    data = assemble(
        frame[["open", "high", "low", "close", "adj_close", "volume"]],
        {"vix": frame["vix"], "gex": frame["gex"], "dp_ratio": frame["dp_ratio"]},
        {"prices": "p.csv", "vix": "v.csv", "gex": "g.csv", "dark_pool": "d.csv"},
    )
    state = build_state(data)
    vix = next(p for p in state.provenance if p.series == "vix")
    assert vix.stale_days == 6
    text = " ".join(state.warnings)
    assert "carried forward" in text and "6 trading days old" in text
    assert state.regime.vix.level is None  # beyond the 3-day fill limit


def test_replay_provenance_is_cut_at_as_of(demo: Dataset) -> None:
    state = build_state(demo, as_of=dt.date(2024, 1, 2))
    assert all(p.last_date == dt.date(2024, 1, 2) for p in state.provenance)
