"""The fast paths of ``state_at`` change no output, bit for bit.

``state_at`` on a fresh preparation runs the forecast pipeline masked to the one row it
reads (:meth:`engine.prepared.Prepared.forecast_at`); the reference is the full pipeline
over every row (``Prepared.forecast``, what the walk-forward reads). Both are compared
array by array on the masked rows, and as MarketState JSON bytes on the real files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.build import prepare, state_at
from engine.dataset import Dataset
from engine.demo import demo_dataset
from engine.forecast import ForecastArrays, forecast_arrays
from engine.prepared import ROW_RUNS, Prepared

GEX_NOTE = "SqueezeMetrics SPX GEX used as a stand-in for IWM GEX"


def _same(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.dtype == b.dtype, what
    if a.dtype.kind == "f":
        assert np.array_equal(np.isnan(a), np.isnan(b)), what
        keep = ~np.isnan(a)
        assert np.array_equal(a[keep].view(np.int64), b[keep].view(np.int64)), what
    else:
        assert np.array_equal(a, b), what


def _assert_row_identical(row: ForecastArrays, full: ForecastArrays, pos: int) -> None:
    assert row.rules == full.rules
    _same(row.fired, full.fired, "fired")
    _same(row.cells.index, full.cells.index, "cells")
    for h, a in full.horizons.items():
        b = row.horizons[h]
        for name in ("up", "base", "base_n", "p_raw", "p", "kappa", "se"):
            _same(getattr(b, name), getattr(a, name), f"h{h} {name}")  # every row
        for part in ("cell", "decisions", "move"):
            got, want = getattr(b, part), getattr(a, part)
            for f in dataclasses.fields(want):
                x, y = getattr(got, f.name), getattr(want, f.name)
                if isinstance(y, np.ndarray):
                    _same(np.asarray(x[pos : pos + 1]), y[pos : pos + 1], f"h{h} {f.name}")


def _masked(prepared: Prepared, pos: int) -> ForecastArrays:
    only = np.zeros(len(prepared.ind), dtype=bool)
    only[pos] = True
    return forecast_arrays(
        prepared.dataset.frame,
        prepared.fires,
        prepared.fwd,
        [r.name for r in prepared.playbook.rules],
        prepared.params,
        only=only,
    )


def _rows(n: int, fires: pd.DataFrame) -> list[int]:
    counts = fires.sum(axis=1).to_numpy()
    busiest = np.flatnonzero(counts == counts.max())[-3:].tolist()
    return sorted({0, 1, 25, 60, 300, 520, 700, n // 2, n - 6, n - 2, n - 1, *busiest})


@pytest.mark.parametrize("years", [3, 10])
def test_masked_pipeline_equals_full_on_every_kind_of_row(years: int) -> None:
    prepared = prepare(demo_dataset(years=years))
    full = prepared.forecast
    n = len(prepared.ind)
    for pos in _rows(n, prepared.fires):
        _assert_row_identical(_masked(prepared, pos), full, pos)


def test_masked_pipeline_without_vix_or_ranges() -> None:
    data = demo_dataset(years=4)
    frame = data.frame.assign(vix=np.nan)
    frame.loc[frame.index[-30:], ["high", "low"]] = np.nan  # no range: HAR cannot fit
    prepared = prepare(dataclasses.replace(data, frame=frame))
    full = prepared.forecast
    assert set(full.horizons[1].move.model.tolist()) <= {-1, 0, 1}  # no HAR-X anywhere
    for pos in _rows(len(frame), prepared.fires):
        _assert_row_identical(_masked(prepared, pos), full, pos)


def _real(raw: Path) -> list[Dataset]:
    from sources.csv_import import load_dataset

    vix = raw / "noodles-rice_vix_dashboard" / "VIX_History.csv"
    gex = raw / "squeezemetrics_dix" / "DIX.csv"
    full = load_dataset(raw / "guydekowski_market-lab" / "IWM.csv", vix=vix, gex=gex)
    start = full.frame.index[-1] - dt.timedelta(days=int(365.25 * 10))
    ten = dataclasses.replace(full, frame=full.frame[full.frame.index > start])
    return [full, ten]


def test_state_json_identical_to_full_pipeline_on_real_files(raw_data_dir: Path) -> None:
    for data in _real(raw_data_dir):
        reference = prepare(data)
        assert reference.forecast.rules  # the full pipeline first: state_at reads its rows
        index = reference.ind.index
        rows = _rows(len(index), reference.fires)
        for pos in [p for p in rows if p >= 260]:  # after the indicators' warm-up
            day = index[pos].date()
            fresh = prepare(data)  # masked to this one row
            got = state_at(fresh, day).model_dump_json()
            assert "forecast" not in fresh.__dict__  # the fast path really ran
            assert got == state_at(reference, day).model_dump_json(), day


def test_many_rows_switch_to_the_full_pipeline_once() -> None:
    prepared = prepare(demo_dataset(years=3))
    days = prepared.ind.index[-(ROW_RUNS + 2) :]
    states = [state_at(prepared, d.date()) for d in days]
    assert "forecast" in prepared.__dict__  # computed once, after ROW_RUNS masked runs
    reference = prepare(demo_dataset(years=3))
    assert reference.forecast.rules
    for d, s in zip(days, states, strict=True):
        assert s.model_dump_json() == state_at(reference, d.date()).model_dump_json()


def test_rows_built_from_many_threads_at_once_are_the_same_states() -> None:
    """The bot shares one Prepared between its worker threads (buttons and questions
    carry their own day), so masked runs, the switch to the full arrays and reads of
    either may interleave; every state must still come out whole and identical."""
    from concurrent.futures import ThreadPoolExecutor

    data = demo_dataset(years=3)
    reference = prepare(data)
    assert reference.forecast.rules
    days = [d.date() for d in reference.ind.index[-(4 * ROW_RUNS) :]]
    expected = {d: state_at(reference, d).model_dump_json() for d in days}
    for _ in range(3):
        shared = prepare(data)
        with ThreadPoolExecutor(max_workers=8) as pool:
            built = pool.map(lambda d, p=shared: (d, state_at(p, d).model_dump_json()), days * 2)
            got = list(built)
        assert all(text == expected[d] for d, text in got)
        assert "forecast" in shared.__dict__  # switched once, whatever the interleaving
