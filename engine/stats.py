"""Honest statistics for the playbook audit: intervals, tests, bootstrap and verdicts.

Pure functions on numpy arrays; no I/O, no clock. Conventions:

* win rates and returns are fractions (0.62 means 62%, 0.0267 means +2.67%);
* confidence level 0.95 unless stated; intervals are ``(low, high)`` tuples;
* a *fire* is a trading day on which a rule fired; its forward return ``r_h`` covers the
  ``h`` trading days after it, so fires closer than ``h`` days apart share days and are
  not independent. :func:`independent_episodes` and :func:`block_bootstrap_ci` are the
  two ways this module accounts for that.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from engine.state import Verdict

log = logging.getLogger(__name__)

MIN_EPISODES: Final = 30
"""Fewer independent episodes than this and the verdict is "too few cases"."""

SIGNIFICANCE: Final = 0.05
"""False-discovery rate at which a win rate counts as significantly above base."""

DEFAULT_RESAMPLES: Final = 2000

FloatArray = npt.NDArray[np.float64]


def wilson_interval(wins: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion ``wins / n``; None when ``n == 0``.

    Better behaved than the normal (Wald) interval for small ``n`` and for rates near
    0 or 1: it never leaves [0, 1]. E.g. 8 wins in 10 gives (0.490, 0.943).
    """
    if n <= 0:
        return None
    if not 0 <= wins <= n:
        raise ValueError(f"wins must be between 0 and n ({wins} of {n})")
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    p = wins / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    # The bounds at 0 and n wins are exactly 0 and 1; say so rather than leave rounding.
    low = 0.0 if wins == 0 else max(0.0, centre - half)
    high = 1.0 if wins == n else min(1.0, centre + half)
    return (low, high)


def binomial_p_greater(wins: int, n: int, p0: float) -> float | None:
    """One-sided exact binomial p-value P(X >= wins) for X ~ Binomial(n, p0).

    Small values mean the win rate is significantly *above* ``p0``. None when ``n == 0``.
    """
    if n <= 0:
        return None
    if wins <= 0:
        return 1.0
    return float(min(1.0, max(0.0, _binomial_pmf(n, p0)[wins:].sum())))


def binomial_p_less(wins: int, n: int, p0: float) -> float | None:
    """One-sided exact binomial p-value P(X <= wins): small means significantly *below*."""
    if n <= 0:
        return None
    return float(min(1.0, max(0.0, _binomial_pmf(n, p0)[: max(wins, -1) + 1].sum())))


@functools.lru_cache(maxsize=64)
def _binomial_pmf(n: int, p: float) -> npt.NDArray[np.float64]:
    """P(X = k) for k = 0..n, X ~ Binomial(n, p), computed in log space; read-only.

    Exact up to floating point; written with numpy so that importing the engine does
    not pull in ``scipy.stats`` (most of a second of start-up). Cached because the
    audit asks for both tails of the same (n, p) in a row.
    """
    k = np.arange(n + 1, dtype=np.float64)
    if p <= 0.0 or p >= 1.0:
        pmf: npt.NDArray[np.float64] = (k == (0 if p <= 0.0 else n)).astype(np.float64)
    else:
        log_choose = np.concatenate([[0.0], np.cumsum(np.log((n - k[1:] + 1.0) / k[1:]))])
        pmf = np.exp(log_choose + k * math.log(p) + (n - k) * math.log1p(-p))
    pmf.flags.writeable = False
    return pmf


def bh_qvalues(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (q-values); ``None`` entries stay ``None``.

    The family is the non-None entries. ``q_(i) = min_{j >= i} p_(j) * m / j`` over the
    sorted p-values, capped at 1, returned in the input order.
    """
    present = [(i, p) for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    m = len(present)
    if m == 0:
        return out
    order = sorted(present, key=lambda ip: ip[1])
    ps = np.array([p for _, p in order], dtype=np.float64)
    ranks = np.arange(1, m + 1, dtype=np.float64)
    adjusted = np.minimum.accumulate((ps * m / ranks)[::-1])[::-1]
    adjusted = np.minimum(adjusted, 1.0)
    for (i, _), q in zip(order, adjusted, strict=True):
        out[i] = float(q)
    return out


def block_length(horizon: int) -> int:
    """Moving-block length for a horizon: ``max(5, 2h)`` observations.

    Overlapping ``h``-day windows make neighbouring fires correlated up to lag ``h - 1``;
    blocks of twice that keep most of the dependence inside a block.
    """
    return max(5, 2 * int(horizon))


def block_bootstrap_ci(
    values: FloatArray,
    *,
    block: int,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int | Sequence[int] = 0,
    level: float = 0.95,
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """Moving-block bootstrap percentile intervals for the mean and the median.

    ``values`` is a time-ordered series (forward returns of successive fires). Each
    resample glues ``ceil(n / block)`` blocks of ``block`` consecutive values, drawn with
    replacement from the ``n - block + 1`` possible starts, and trims to ``n``. The
    generator is ``np.random.default_rng(seed)``, so the same inputs give the same
    intervals. The resamples are built in chunks of about :data:`_CHUNK_ELEMENTS` values
    (see :func:`_resample_means_medians`), so memory stays bounded for long series.

    Returns ``(mean_ci, median_ci)``; both None with fewer than 2 values.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {x.shape}")
    n = x.size
    if n < 2 or n_boot <= 0:
        return None, None
    b = max(1, min(int(block), n))
    n_blocks = -(-n // b)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - b + 1, size=(n_boot, n_blocks))
    tail = (1.0 - level) / 2.0 * 100.0
    (m_lo, d_lo), (m_hi, d_hi) = _percentiles(
        _resample_means_medians(x, starts, b), (tail, 100.0 - tail)
    )
    return (float(m_lo), float(m_hi)), (float(d_lo), float(d_hi))


def _percentiles(rows: FloatArray, q: tuple[float, float]) -> FloatArray:
    """``np.percentile(rows, q, axis=1)`` (the linear method), bit for bit; shape (2, rows).

    numpy moves the axis to the front and partitions the strided copy; here each row is
    partitioned where it lies (contiguous, about 3x faster), and the same order
    statistics go through numpy's own index, weight and interpolation arithmetic
    (``_quantile``, ``_get_indexes``, ``_get_gamma`` and ``_lerp`` of
    ``numpy.lib._function_base_impl``). Rows holding a NaN, or quantiles at the ends,
    go to ``np.percentile`` itself.
    """
    n = rows.shape[1]
    virtual = (n - 1) * np.true_divide(np.asarray(q, dtype=np.float64), 100)
    if not ((virtual > 0).all() and (virtual < n - 1).all()) or np.isnan(rows).any():
        out: FloatArray = np.percentile(rows, q, axis=1)
        return out
    previous_at = np.floor(virtual)
    gamma = (virtual - previous_at).reshape(-1, 1)
    below = previous_at.astype(np.intp)
    above = below + 1
    ordered = np.partition(rows, np.unique(np.concatenate([below, above])), axis=1)
    a = ordered[:, below].T  # (quantile, row)
    b = ordered[:, above].T
    if not (a.all() and b.all()):
        # -0.0 and 0.0 tie: which of them lands at a position depends on the partition.
        zero: FloatArray = np.percentile(rows, q, axis=1)
        return zero
    diff = b - a
    lerp: FloatArray = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=lerp, where=gamma >= 0.5)
    return lerp


_CHUNK_ELEMENTS: Final = 1 << 17
"""Values per chunk of resamples (1 MB of float64): big enough for numpy, small for cache."""

_SORT_UP_TO: Final = 256
"""Resamples up to this long are fully sorted (numpy sorts short int16 rows in registers);
longer ones are partitioned around the middle, which is then about twice as fast."""


def _resample_means_medians(x: FloatArray, starts: npt.NDArray[np.int64], block: int) -> FloatArray:
    """Means (row 0) and medians (row 1) of the moving-block resamples, shape (2, rows).

    Resample ``j`` is the first ``x.size`` values of the blocks ``x[s : s + block]``
    glued for the starts ``s`` in row ``j`` of ``starts``.

    Bit for bit what ``sample.mean(axis=1)`` and ``np.median(sample, axis=1)`` give on
    the full ``(rows, n)`` resample matrix, computed without it, a chunk of rows at a
    time in two reused buffers:

    * blocks are copied whole from a sliding-window view of ``x`` (``np.take`` of rows,
      no per-value index matrix); the mean is numpy's row mean of that same sequence;
    * the median needs only the middle order statistic(s). Each resample is ordered as
      small integer *ranks* (positions in the sorted ``x``, int16 while ``n`` allows),
      which sort and partition several times faster than float64; the middle rank(s)
      give the value(s), averaged as ``np.median`` averages them. NaN sorts last
      in numpy, so a resample holding a NaN is one whose largest rank is a NaN's; its
      median is NaN, as in ``np.median``.
    """
    n = x.size
    n_boot, n_blocks = starts.shape
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    n_numbers = n - int(np.count_nonzero(np.isnan(x)))
    rank_type = np.int16 if n <= np.iinfo(np.int16).max else np.int32
    ranks = np.empty(n, dtype=rank_type)
    ranks[order] = np.arange(n, dtype=rank_type)
    x_blocks = sliding_window_view(x, block)
    rank_blocks = sliding_window_view(ranks, block)
    width = n_blocks * block
    lo, hi = (n - 1) // 2, n // 2
    out = np.empty((2, n_boot), dtype=np.float64)
    means, medians = out[0], out[1]
    step = min(n_boot, max(1, _CHUNK_ELEMENTS // width))
    x_buffer = np.empty((step, n_blocks, block), dtype=np.float64)
    rank_buffer = np.empty((step, n_blocks, block), dtype=rank_type)
    middle = np.empty((step, 2), dtype=rank_type)
    for i in range(0, n_boot, step):
        rows = starts[i : i + step]
        k = rows.shape[0]
        # mode="clip" lets take write straight into the buffer; every start is valid.
        np.take(x_blocks, rows, axis=0, out=x_buffer[:k], mode="clip")
        # np.mean's own two steps, without its per-call overhead: the row sum, then / n.
        np.add.reduce(x_buffer[:k].reshape(k, width)[:, :n], axis=1, out=means[i : i + k])
        np.true_divide(means[i : i + k], n, out=means[i : i + k])
        np.take(rank_blocks, rows, axis=0, out=rank_buffer[:k], mode="clip")
        ranked = rank_buffer[:k].reshape(k, width)[:, :n]
        mid = middle[:k]
        if n <= _SORT_UP_TO:
            ranked.sort(axis=1)
            mid[:] = ranked[:, [lo, hi]]
            largest = ranked[:, -1]
        else:
            ranked.partition(hi, axis=1)
            mid[:, 1] = ranked[:, hi]
            mid[:, 0] = ranked[:, :hi].max(axis=1) if lo < hi else ranked[:, hi]
            largest = ranked[:, hi:].max(axis=1)
        # The mean of the middle value(s), as np.median takes it (even of one value: the
        # sum starts from 0.0, which turns -0.0 into 0.0).
        np.add.reduce(sorted_x[mid[:, : hi - lo + 1]], axis=1, out=medians[i : i + k])
        np.true_divide(medians[i : i + k], hi - lo + 1, out=medians[i : i + k])
        if n_numbers < n:
            medians[i : i + k][largest >= n_numbers] = np.nan
    return out


def independent_episodes(positions: npt.NDArray[np.int64], horizon: int) -> npt.NDArray[np.int64]:
    """Fires whose ``horizon``-day forward windows do not overlap, greedy from the earliest.

    ``positions`` are sorted row numbers of fires. A fire at row ``i`` covers rows
    ``i+1 .. i+h``; the next fire kept is the first at row ``>= i + h``. For ``h == 1``
    every fire is its own episode. Returns the kept positions.
    """
    pos = np.asarray(positions, dtype=np.int64)
    if pos.size == 0 or horizon <= 1:
        return pos
    kept: list[int] = []
    next_free = -(2**62)
    for p in pos.tolist():
        if p >= next_free:
            kept.append(p)
            next_free = p + horizon
    return np.asarray(kept, dtype=np.int64)


def effective_sample_size(positions: npt.NDArray[np.int64], horizon: int) -> float:
    """Effective number of independent win/loss outcomes among overlapping windows.

    Two ``h``-day forward returns starting ``d < h`` days apart share ``h - d`` daily
    returns, so (for independent daily returns) they correlate ``rho = (h - d) / h``;
    their up/down outcomes then correlate ``(2 / pi) * arcsin(rho)`` (exact for Gaussian
    returns). The variance of the win count is inflated by
    ``1 + (2 / n) * sum over pairs of that correlation``, and ``n_eff = n / inflation``.
    Equals ``n`` at ``h == 1``. Using every fire as independent inflates false
    positives (about 16% instead of 5% in the clustered-rule test); using only
    non-overlapping episodes throws information away (about 0.5%).
    """
    pos = np.asarray(positions, dtype=np.int64).ravel()
    if pos.size > 1 and not bool(np.all(pos[1:] > pos[:-1])):
        pos = np.unique(pos)  # callers pass np.flatnonzero output, already unique and sorted
    n = int(pos.size)
    if n == 0:
        return 0.0
    if horizon <= 1:
        return float(n)
    pairs = _pair_gaps(pos, horizon)
    pair_sum = 0.0
    for d in range(1, horizon):
        pair_sum += int(pairs[d]) * (2.0 / math.pi) * math.asin((horizon - d) / horizon)
    return n / (1.0 + 2.0 * pair_sum / n)


def _pair_gaps(pos: npt.NDArray[np.int64], horizon: int) -> npt.NDArray[np.int64]:
    """``out[d]``: the number of pairs of positions exactly ``d`` apart, ``d < horizon``.

    ``pos`` is unique and sorted, so positions ``k`` places apart are at least ``k``
    apart: every pair closer than ``horizon`` is ``k < horizon`` places apart, and one
    difference of shifted arrays per ``k`` finds them all.
    """
    out = np.zeros(horizon, dtype=np.int64)
    for k in range(1, min(horizon, pos.size)):
        gaps = pos[k:] - pos[:-k]
        out += np.bincount(gaps[gaps < horizon], minlength=horizon)
    return out


def verdict(
    *,
    n_episodes: int,
    claim_win_rate: float | None,
    claim_mean_return: float | None,
    win_rate_ci: tuple[float, float] | None,
    q_value: float | None,
    base_win_rate: float | None,
    mean_return_ci: tuple[float, float] | None = None,
    base_mean_return: float | None = None,
) -> Verdict:
    """The playbook claim against the measurement, in plain words.

    Evaluated in this order:

    1. ``"too few cases"`` - fewer than :data:`MIN_EPISODES` independent episodes; the
       data cannot say anything either way (applies whether or not there is a claim).
    2. ``"no claim"`` - the playbook makes no claim for this rule at this horizon.
    3. Win-rate claim (used whenever the playbook gives one):

       * ``"contradicted"`` when the claim lies above the Wilson interval's upper bound
         (the data rule it out), or the whole interval lies below the base rate (the rule
         does significantly *worse* than an average day);
       * ``"supported"`` when the win rate is significantly above the base rate
         (BH q < :data:`SIGNIFICANCE`) and the claim is not above the interval (a claim
         below the interval is conservative, the edge is real);
       * otherwise ``"not distinguishable from base rate"``.

    4. Mean-return-only claim: the same three outcomes with the block-bootstrap interval
       of the mean against the base mean return. Without that interval (it is computed
       only in the full audit) the verdict is ``"not distinguishable from base rate"``
       unless the win-rate test alone shows the rule is significantly worse than base.
    """
    if n_episodes < MIN_EPISODES:
        return "too few cases"
    if claim_win_rate is None and claim_mean_return is None:
        return "no claim"
    below_base = (
        win_rate_ci is not None and base_win_rate is not None and win_rate_ci[1] < base_win_rate
    )
    significant = q_value is not None and q_value < SIGNIFICANCE
    if claim_win_rate is not None:
        if win_rate_ci is None:
            return "too few cases"
        if claim_win_rate > win_rate_ci[1] or below_base:
            return "contradicted"
        if significant:
            return "supported"
        return "not distinguishable from base rate"
    assert claim_mean_return is not None
    if mean_return_ci is None or base_mean_return is None:
        return "contradicted" if below_base else "not distinguishable from base rate"
    if claim_mean_return > mean_return_ci[1] or mean_return_ci[1] < base_mean_return:
        return "contradicted"
    if mean_return_ci[0] > base_mean_return:
        return "supported"
    return "not distinguishable from base rate"
