"""The service's caches stay bounded: states go with their prepared dataset."""

from __future__ import annotations

import datetime as dt
import gc
import os
import weakref
from pathlib import Path

import pandas as pd
import pytest

from bot.service import AnalystService, DataRequest
from bot.settings import Settings


def test_states_do_not_keep_evicted_datasets_alive(settings: Settings, tmp_path: Path) -> None:
    from engine.demo import demo_dataset

    frame = demo_dataset(years=2).frame[["open", "high", "low", "close", "volume"]]
    service = AnalystService(settings, cache_size=2)
    seen: list[weakref.ref[object]] = []
    days = []
    for k in range(5):  # five versions of the data, as five store updates would give
        path = tmp_path / f"p{k}.csv"
        frame.iloc[: len(frame) - k].to_csv(path)
        req = DataRequest(csv=path)
        state = service.state(req)
        assert service.state(req) is state  # built once per dataset and day
        seen.append(weakref.ref(service.prepared(req)))
        days.append(state.as_of)
    assert days == sorted(days, reverse=True)  # each version is its own dataset
    gc.collect()
    alive = [ref() is not None for ref in seen]
    assert alive == [False, False, False, True, True]


def test_a_state_is_rebuilt_after_its_dataset_was_evicted(
    settings: Settings, tmp_path: Path
) -> None:
    from engine.demo import demo_dataset

    frame = demo_dataset(years=2).frame[["open", "high", "low", "close", "volume"]]
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"p{k}.csv")
        frame.iloc[: len(frame) - k].to_csv(paths[-1])
    service = AnalystService(settings, cache_size=1)
    first = service.state(DataRequest(csv=paths[0]))
    service.state(DataRequest(csv=paths[1]))  # evicts the first dataset and its states
    again = service.state(DataRequest(csv=paths[0]))
    assert again is not first
    assert again.model_dump_json() == first.model_dump_json()


def _fill_store(settings: Settings, frame: pd.DataFrame) -> None:
    from sources.store import Store

    with Store(settings.database) as store:
        store.upsert(
            "prices", frame[["open", "high", "low", "close", "adj_close", "volume"]], source="test"
        )
        store.upsert("vix", frame[["vix"]].rename(columns={"vix": "close"}), source="test")


def _store_frame() -> pd.DataFrame:
    from engine.demo import demo_dataset
    from sources.calendar import sessions_mask

    frame = demo_dataset(years=2).frame
    return frame[sessions_mask(pd.DatetimeIndex(frame.index))]


def _stamps(db: Path) -> dict[Path, int]:
    files = [db, Path(f"{db}-wal")]
    return {f: f.stat().st_mtime_ns for f in files if f.exists()}


def test_a_commit_within_one_timestamp_tick_is_seen(settings: Settings) -> None:
    """New rows whose files keep the modification times of the last read (two commits
    within one tick of the file system's clock) still give a new dataset. The bot keeps
    its own state open on the same database, so the WAL stays and grows by the commit."""
    from bot.discord_bot.persist import BotState

    bot_state = BotState(settings.database)
    frame = _store_frame()
    _fill_store(settings, frame.iloc[:-1])
    last_day = frame.index[-1].date()
    after_close = dt.datetime(last_day.year, last_day.month, last_day.day, 22, tzinfo=dt.UTC)
    service = AnalystService(settings, clock=lambda: after_close)
    before = service.state(DataRequest())
    assert before.as_of < last_day
    stamps = _stamps(settings.database)
    _fill_store(settings, frame.iloc[-1:])
    for path, ns in stamps.items():  # the same tick: mtimes as at the read
        os.utime(path, ns=(ns, ns))
    assert _stamps(settings.database) == stamps
    assert service.state(DataRequest()).as_of == last_day
    bot_state.close()


def test_a_refresh_reads_the_store_afresh(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the files show, a refresh by this service starts a new generation."""
    import sources.update

    frame = _store_frame()
    _fill_store(settings, frame)
    service = AnalystService(settings, providers=lambda: None)  # type: ignore[arg-type,return-value]
    first = service.prepared(DataRequest())
    assert service.prepared(DataRequest()) is first
    monkeypatch.setattr(sources.update, "update", lambda *args, **kwargs: None)
    service.refresh_store(frame.index[-1].date())
    again = service.prepared(DataRequest())
    assert again is not first and service.prepared(DataRequest()) is again
