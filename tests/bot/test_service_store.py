"""Forecasts on the local store: same as the CSV path, empty-store hint, staleness."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from bot.cli import main
from bot.service import AnalystService, DataRequest
from bot.settings import Settings
from engine.demo import demo_dataset
from engine.errors import EmptyStoreError
from engine.state import WarningCode
from sources.calendar import sessions_mask
from sources.store import Store


def _fill(settings: Settings, tmp_path: Path) -> Path:
    frame = demo_dataset().frame
    # The demo runs on weekdays; a price file is read on NYSE sessions only.
    frame = frame[sessions_mask(pd.DatetimeIndex(frame.index))]
    with Store(settings.database) as store:
        store.upsert(
            "prices", frame[["open", "high", "low", "close", "adj_close", "volume"]], source="test"
        )
        store.upsert("vix", frame[["vix"]].rename(columns={"vix": "close"}), source="test")
        store.upsert("gex", frame[["gex"]].rename(columns={"gex": "net_gex"}), source="test")
        store.upsert(
            "dark_pool", frame[["dark_pool"]].rename(columns={"dark_pool": "ratio"}), source="test"
        )
    csv = tmp_path / "all.csv"
    frame.to_csv(csv)
    return csv


def _clock(day: dt.date) -> dt.datetime:
    """After the close (16:00 New York) of ``day``."""
    return dt.datetime(day.year, day.month, day.day, 22, tzinfo=dt.UTC)


def test_store_forecast_equals_csv_forecast(settings: Settings, tmp_path: Path) -> None:
    csv = _fill(settings, tmp_path)
    service = AnalystService(settings, clock=lambda: _clock(dt.date(2025, 12, 31)))
    from_store = service.state(DataRequest())
    from_csv = service.state(DataRequest(csv=csv))
    assert from_store.tomorrow == from_csv.tomorrow
    assert from_store.next_5_days == from_csv.next_5_days
    assert from_store.rules == from_csv.rules
    assert not any(w.code == WarningCode.PRICES_BEHIND for w in from_store.warnings)


def test_stale_store_is_warned(settings: Settings, tmp_path: Path) -> None:
    _fill(settings, tmp_path)
    service = AnalystService(settings, clock=lambda: _clock(dt.date(2026, 1, 9)))
    state = service.state(DataRequest())
    behind = [w for w in state.warnings if w.code == WarningCode.PRICES_BEHIND]
    assert len(behind) == 1 and "run 'iwm-analyst update'" in behind[0].text


def test_empty_store_says_how_to_fill_it(settings: Settings) -> None:
    with pytest.raises(EmptyStoreError, match="iwm-analyst update"):
        AnalystService(settings).state(DataRequest())


def test_cli_on_empty_store_shows_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forecast", "--offline"]) == 0
    out, err = capsys.readouterr()
    assert "iwm-analyst import" in err
    assert "SYNTHETIC DEMO DATA" in out
