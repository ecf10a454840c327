"""Point-in-time array helpers for the forecast, its calibration and the move ranges.

Conventions shared by :mod:`engine.calibration`, :mod:`engine.volatility` and
:mod:`engine.forecast`:

* arrays are indexed by trading-day row ``t``, oldest first;
* the ``h``-day outcome of row ``s`` (from the close of ``s`` to the close of ``s + h``)
  is *known at the close of* ``t`` when ``s + h <= t``; every per-row array built with
  these helpers uses only known outcomes, so computing it over the whole history and
  reading row ``t`` gives exactly what the history cut at ``t`` gives;
* periodic refits happen on rows ``0, every, 2 * every, ...``, anchored at row 0, so
  cutting the data never moves a refit day;
* probabilities are fractions, counts may be fractional (effective sample sizes).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def known_cumsum(x: npt.ArrayLike, h: int) -> FloatArray:
    """``out[t] = sum of x[s] over s <= t - h`` along axis 0: what is known at ``t``.

    ``x`` must hold 0 (not NaN) on rows without an outcome.
    """
    c = np.cumsum(np.asarray(x, dtype=np.float64), axis=0)
    if h <= 0:
        return c
    out = np.zeros_like(c)
    out[h:] = c[: c.shape[0] - h]
    return out


def known_group_sum(
    values: FloatArray, group: IntArray, h: int, only: BoolArray | None = None
) -> FloatArray:
    """``out[t] = sum of values[s] over s <= t - h with group[s] == group[t]``.

    What :func:`known_cumsum` over a one-hot ``T x K`` array read at each row's own
    column gives, in ``O(T log T)`` without the ``T x K`` arrays. ``values`` must hold 0
    on rows without an outcome. With ``only`` (a row mask), only the groups of those
    rows are summed (the same sums, in the same order); other rows get 0.
    """
    out = np.zeros(values.size)
    if only is not None:
        for g in np.unique(group[only]).tolist():
            rows = np.flatnonzero(group == g)
            c = np.concatenate([[0.0], np.cumsum(values[rows])])
            out[rows] = c[np.searchsorted(rows, rows - h, side="right")]
        return out
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.diff(group[order], prepend=-1, append=-1))
    for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
        rows = order[a:b]
        c = np.concatenate([[0.0], np.cumsum(values[rows])])
        out[rows] = c[np.searchsorted(rows, rows - h, side="right")]
    return out


def overlap_rho(h: int) -> FloatArray:
    """Correlation of the up/down outcomes of two ``h``-day windows 1..h-1 days apart.

    Two ``h``-day returns ``d`` days apart share ``h - d`` daily returns (correlation
    ``(h - d) / h`` for independent days); their signs then correlate
    ``(2 / pi) * asin((h - d) / h)`` (Gaussian), as in
    :func:`engine.stats.effective_sample_size`. Empty at ``h = 1``.
    """
    d = np.arange(1, max(h, 1), dtype=np.float64)
    out: FloatArray = (2.0 / math.pi) * np.arcsin((h - d) / h)
    return out


def overlap_inflation(h: int) -> float:
    """Variance inflation of a share over consecutive overlapping ``h``-day outcomes.

    1 at ``h = 1``, 3.78 at ``h = 5``: a hundred consecutive 5-day outcomes weigh like
    26 independent ones.
    """
    return float(1.0 + 2.0 * overlap_rho(h).sum())


def refit_slot(n: int, every: int) -> IntArray:
    """For each row, the index (into :func:`refit_rows`) of the last refit at or before it."""
    out: IntArray = np.arange(n, dtype=np.int64) // max(int(every), 1)
    return out


def refit_rows(n: int, every: int) -> IntArray:
    """The refit rows ``0, every, 2 * every, ... < n``."""
    out: IntArray = np.arange(0, n, max(int(every), 1), dtype=np.int64)
    return out


def up_outcomes(forward_return: FloatArray) -> FloatArray:
    """1.0 where the forward return is positive, 0.0 where not, NaN where unknown."""
    r = np.asarray(forward_return, dtype=np.float64)
    out: FloatArray = np.where(np.isnan(r), np.nan, (r > 0).astype(np.float64))
    return out


def running_rate(y: FloatArray, h: int, fallback: float = 0.5) -> tuple[FloatArray, FloatArray]:
    """``(rate, n)``: the share of known outcomes that went up, and how many are known.

    ``rate`` is ``fallback`` while nothing is known.
    """
    known = ~np.isnan(y)
    n = known_cumsum(known, h)
    wins = known_cumsum(np.where(known, y, 0.0), h)
    rate: FloatArray = np.where(n > 0, wins / np.maximum(n, 1.0), fallback)
    return rate, n


def two_sided_z(level: float) -> float:
    """The normal quantile of a two-sided interval: 1.96 for 0.95, 2.576 for 0.99."""
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def wilson_bounds(
    rate: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson interval of a share ``rate`` over ``n`` cases, elementwise.

    ``n`` may be fractional (an effective sample size); where ``n <= 0`` the interval
    is the uninformative ``[0, 1]``. Same formula as :func:`engine.stats.wilson_interval`.
    """
    p = np.asarray(rate, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    z = two_sided_z(level)
    safe = np.maximum(nn, 1e-12)
    denom = 1.0 + z * z / safe
    centre = (p + z * z / (2.0 * safe)) / denom
    half = z * np.sqrt(np.maximum(p * (1.0 - p) / safe + z * z / (4.0 * safe * safe), 0.0)) / denom
    low: FloatArray = np.where(nn > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    high: FloatArray = np.where(nn > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    return low, high
