from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from bot.service import AnalystService, DataRequest
from bot.settings import Settings
from engine.errors import InputDataError


def test_forecast_on_demo_is_offline_report(settings: Settings) -> None:
    service = AnalystService(settings)
    report = service.forecast(DataRequest(demo=True))
    assert report.narrator == "offline"
    assert report.narrative.immediate_call == report.state.tomorrow.call
    assert report.narrative.five_day_call == report.state.next_5_days.call
    assert report.state.synthetic


def test_prepared_is_built_once_for_concurrent_requests(settings: Settings) -> None:
    service = AnalystService(settings)
    results = []

    def work() -> None:
        results.append(service.prepared(DataRequest(demo=True)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(p) for p in results}) == 1


def test_csv_edit_invalidates_cache(settings: Settings, tmp_path: Path) -> None:
    from engine.demo import demo_dataset

    frame = demo_dataset().frame
    path = tmp_path / "p.csv"
    frame[["open", "high", "low", "close", "volume"]].to_csv(path)
    service = AnalystService(settings)
    first = service.state(DataRequest(csv=path))
    frame.iloc[:-1][["open", "high", "low", "close", "volume"]].to_csv(path)
    second = service.state(DataRequest(csv=path))
    assert second.as_of < first.as_of


def test_no_data_gives_actionable_error(settings: Settings) -> None:
    with pytest.raises(InputDataError, match="--csv"):
        AnalystService(settings).state(DataRequest(vix=Path("vix.csv")))


def test_replay_as_of(settings: Settings) -> None:
    state = AnalystService(settings).state(DataRequest(demo=True), dt.date(2024, 8, 4))
    assert state.as_of == dt.date(2024, 8, 2)  # Sunday -> the Friday before
