"""Building the MarketState (warm: data already loaded), against the previous kernels.

Rows of issue 15, each a median (min-max) with its target and a ratio against the same
computation with the previous kernels (pandas indicators, index-matrix bootstrap with
``np.median``; :func:`bench._timing.previous_kernels`), timed alternately in this run:

* ``state_at`` on a prepared 10-year dataset, on the last day and on the day with the
  most rules firing (each fired rule gets block-bootstrap intervals): target < 10 ms;
* ``build_state`` for 10 years (``prepare``: indicators, rule fires, forward returns;
  then ``state_at`` on the last day, whose forecast pipeline runs masked to that day):
  target < 10 ms, against the previous path (previous kernels and the full pipeline);
* scaling: ``build_state`` and the busiest ``state_at`` on 5, 10, 26 and 100 years of
  synthetic data (the seeded demo generator), and ``compute_indicators`` alone.

CSV parsing is not included (the ``cli_start`` benchmark covers a cold run).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

import numpy as np
import numpy.typing as npt

from bench._timing import measure, measure_pair, real_ten_years, row, with_previous
from engine.build import Prepared, build_state, prepare, state_at
from engine.dataset import Dataset
from engine.demo import demo_dataset
from engine.edge import forward_returns
from engine.forecast import forecast_arrays
from engine.indicators import compute_indicators
from engine.rules import evaluate_rules, load_playbook

RUNS = 21


def _busiest(data: Dataset) -> tuple[dt.date, int]:
    counts = prepare(data).fires.sum(axis=1)
    day = counts[counts == counts.max()].index[-1]
    return day.date(), int(counts.max())


def _ten_year_rows() -> list[str]:
    data, label = real_ten_years()
    prepared = prepare(data)
    busiest, n_fired = _busiest(data)
    old_prepared = with_previous(lambda: prepare(data))()
    lines = [f"data: {label}, {len(data.frame)} trading days"]
    ours, ref = measure_pair(
        lambda: state_at(prepared), with_previous(lambda: state_at(old_prepared)), RUNS
    )
    lines.append(row("state_at, last day", ours, "< 10 ms", ref, "previous kernels"))
    ours, ref = measure_pair(
        lambda: state_at(prepared, busiest),
        with_previous(lambda: state_at(old_prepared, busiest)),
        RUNS,
    )
    lines.append(
        row(
            f"state_at, busiest day {busiest} ({n_fired} rules firing)",
            ours,
            "< 10 ms",
            ref,
            "previous kernels",
        )
    )
    ours, ref = measure_pair(lambda: build_state(data), with_previous(_full_path(data)), RUNS)
    lines.append(
        row(
            "build_state (prepare + state_at)",
            ours,
            "< 10 ms",
            ref,
            "previous kernels and full forecast pipeline",
        )
    )
    lines.append("  " + _build_parts(data, prepared))
    return lines


def _full_path(data: Dataset) -> Callable[[], object]:
    """build_state as it was before the masked forecast: the full pipeline, then the day."""

    def run() -> object:
        prepared = prepare(data)
        assert prepared.forecast.rules is not None  # every row, as the walk-forward reads
        return state_at(prepared)

    return run


def _build_parts(data: Dataset, prepared: Prepared) -> str:
    """Where build_state's time goes: the kernels of this change and everything else."""
    parts = {
        "compute_indicators": partial(compute_indicators, data.frame),
        "load_playbook": load_playbook,
        "evaluate_rules": partial(evaluate_rules, prepared.playbook, prepared.ind, prepared.params),
        "forward_returns": partial(forward_returns, data.frame),
        "forecast pipeline, masked to the last day": partial(_masked, prepared),
        "forecast pipeline, every row": partial(_full, prepared),
        "state_at (last day, pipeline cached)": partial(state_at, prepared),
    }
    medians = {name: measure(fn, RUNS).median for name, fn in parts.items()}
    return "parts (medians): " + ", ".join(f"{k} {v:.2f} ms" for k, v in medians.items())


def _masked(prepared: Prepared) -> object:
    only = np.zeros(len(prepared.ind), dtype=bool)
    only[-1] = True
    return _full(prepared, only)


def _full(prepared: Prepared, only: npt.NDArray[np.bool_] | None = None) -> object:
    names = [r.name for r in prepared.playbook.rules]
    frame = prepared.dataset.frame
    return forecast_arrays(frame, prepared.fires, prepared.fwd, names, prepared.params, only=only)


def _scaling_rows() -> list[str]:
    lines = ["scaling on synthetic data (demo generator, seed 42):"]
    for years in (5, 10, 26, 100):
        data = demo_dataset(years=years)
        prepared = prepare(data)
        busiest, n_fired = _busiest(data)
        old_prepared = with_previous(partial(prepare, data))()
        runs = 7 if years < 100 else 3
        build, build_ref = measure_pair(
            partial(build_state, data), with_previous(_full_path(data)), runs
        )
        busy, busy_ref = measure_pair(
            partial(state_at, prepared, busiest),
            with_previous(partial(state_at, old_prepared, busiest)),
            runs,
        )
        size = f"  {years:>3} years ({len(data.frame)} rows)"
        lines.append(row(f"{size} build_state", build, "-", build_ref, "previous"))
        lines.append(
            row(f"{size} busiest state_at ({n_fired} rules)", busy, "-", busy_ref, "previous")
        )
    return lines


def run() -> list[str]:
    return _ten_year_rows() + _scaling_rows()
