"""The MarketState: no look-ahead, replay, errors, immutability and schema."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from engine.build import build_state, prepare, state_at
from engine.dataset import Dataset
from engine.demo import demo_dataset
from engine.errors import InputDataError, InsufficientHistoryError
from engine.state import MarketState, WarningCode


def truncated(dataset: Dataset, day: dt.date) -> Dataset:
    frame = dataset.frame.loc[: pd.Timestamp(day)]
    return replace(dataset, frame=frame)


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
    from sources.csv_import import load_dataset

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
    assert state.synthetic and state.warnings[0].code == WarningCode.SYNTHETIC
    assert state.warnings[0].text.startswith("SYNTHETIC DEMO DATA")
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
        {"vix": frame["vix"], "gex": frame["gex"], "dark_pool": frame["dark_pool"]},
        {"prices": "p.csv", "vix": "v.csv", "gex": "g.csv", "dark_pool": "d.csv"},
    )
    state = build_state(data)
    vix = next(p for p in state.provenance if p.series == "vix")
    assert vix.stale_days == 6
    text = " ".join(w.text for w in state.warnings)
    assert "carried forward" in text and "6 trading days old" in text
    assert state.regime.vix.level is None  # beyond the 3-day fill limit


def test_replay_provenance_is_cut_at_as_of(demo: Dataset) -> None:
    state = build_state(demo, as_of=dt.date(2024, 1, 2))
    assert all(p.last_date == dt.date(2024, 1, 2) for p in state.provenance)


def test_trend_basis_states_the_three_facts(demo: Dataset) -> None:
    prepared = prepare(demo)
    labels = prepared.ind["trend"]
    for label, words in (
        ("Uptrend", ("above SMA50", "SMA20", "rising")),
        ("Downtrend", ("below SMA50", "falling")),
    ):
        day = labels[labels == label].index[-1].date()
        state = state_at(prepared, day)
        assert state.indicators.trend == label
        assert all(w in state.indicators.trend_basis for w in words)
        assert f"{state.latest.close:.2f}" in state.indicators.trend_basis


def _with_vix_gaps(demo: Dataset, holes: list[int]) -> Dataset:
    from engine.dataset import assemble

    frame = demo.frame.copy()
    vix = frame["vix"].copy()
    vix.iloc[holes] = float("nan")
    return assemble(
        frame[["open", "high", "low", "close", "adj_close", "volume"]],
        {"vix": vix, "gex": frame["gex"], "dark_pool": frame["dark_pool"]},
        {"prices": "p.csv", "vix": "v.csv", "gex": "g.csv", "dark_pool": "d.csv"},
    )


def test_gap_warnings_are_cut_at_as_of_and_capped(demo: Dataset) -> None:
    holes = list(range(100, 1000, 100))  # nine one-day gaps
    data = _with_vix_gaps(demo, holes)
    assert len(data.warnings) == 9
    index = data.frame.index
    early = state_at(prepare(data), index[350].date())
    gaps = [w for w in early.warnings if w.code == WarningCode.GAP and w.series == "vix"]
    assert [w.dates[0] for w in gaps] == [index[i].date() for i in (100, 200, 300)]
    late = build_state(data)
    gaps = [w for w in late.warnings if w.code == WarningCode.GAP and w.series == "vix"]
    assert [w.dates[0] for w in gaps] == [index[i].date() for i in holes[-5:]]
    summary = f"vix: 4 earlier gap(s) before {index[500].date()} not listed"
    assert summary in [w.text for w in late.warnings if w.code == WarningCode.GAPS_NOT_LISTED]


def test_future_rows_change_no_past_warning(demo: Dataset) -> None:
    day = demo.frame.index[300].date()
    full = state_at(prepare(_with_vix_gaps(demo, [100, 400, 401])), day)
    # the same file as it looked on ``day``: loaded again, so its warnings are its own
    cut = state_at(prepare(_with_vix_gaps(truncated(demo, day), [100])), day)
    assert full.warnings == cut.warnings
    assert any(w.code == WarningCode.GAP for w in cut.warnings)
