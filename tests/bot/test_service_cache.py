"""The service's caches stay bounded: states go with their prepared dataset."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

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
