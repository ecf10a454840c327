"""Speed of the playbook audit and the walk-forward, against the previous kernels.

Rows of issue 15: the full audit (7 rules x 2 horizons, then the same by 4 regimes, each
with a 2,000-resample block bootstrap) on 10 years, target < 100 ms; the walk-forward on
10 years (target < 5 s, issue 3). Each is a median (min-max) with a ratio against the
previous kernels (index-matrix bootstrap with ``np.median``, pandas indicators; see
:func:`bench._timing.previous_kernels`) timed alternately in this run. Then the audit on
5, 10, 26 and 100 years of synthetic data (the bootstrap grows with the fire counts).
Uses the real files in ``../shared/data/raw`` when present, else the synthetic demo.
"""

from __future__ import annotations

from functools import partial

from bench._timing import measure_pair, real_ten_years, row, with_previous
from engine.audit import audit
from engine.build import prepare
from engine.demo import demo_dataset
from engine.walkforward import walk_forward


def _audit_rows() -> list[str]:
    data, label = real_ten_years()
    prepared = prepare(data)
    old = with_previous(partial(prepare, data))()
    lines = [f"data: {label}, {len(data.frame)} trading days"]
    ours, ref = measure_pair(
        partial(audit, prepared, seed=0, n_boot=2000),
        with_previous(partial(audit, old, seed=0, n_boot=2000)),
        repeat=9,
        reference_repeat=5,
    )
    lines.append(
        row(
            "full audit (7 rules x 2 horizons + 4 regimes, 2000 resamples)",
            ours,
            "< 100 ms",
            ref,
            "previous kernels",
        )
    )
    ours, ref = measure_pair(
        partial(walk_forward, prepared), with_previous(partial(walk_forward, old)), repeat=3
    )
    lines.append(
        row(f"walk-forward over {len(data.frame) - 250} days", ours, "< 5000 ms", ref, "previous")
    )
    return lines


def _scaling_rows() -> list[str]:
    lines = ["audit scaling on synthetic data (demo generator, seed 42, 2000 resamples):"]
    for years in (5, 10, 26, 100):
        data = demo_dataset(years=years)
        prepared = prepare(data)
        old = with_previous(partial(prepare, data))()
        fires = int(prepared.fires.sum().max())
        ours, ref = measure_pair(
            partial(audit, prepared),
            with_previous(partial(audit, old)),
            repeat=5 if years < 100 else 2,
            reference_repeat=3 if years < 26 else 1,
            warmup=years < 26,
        )
        label = f"  {years:>3} years ({len(data.frame)} rows, up to {fires} fires a rule)"
        lines.append(row(label, ours, "-", ref, "previous"))
    return lines


def run() -> list[str]:
    return _audit_rows() + _scaling_rows()
