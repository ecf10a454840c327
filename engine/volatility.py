"""The size of the move: a volatility forecast and the 68% / 90% ranges built on it.

Target: the ``h``-day log return ``L_h(t) = log(adj(t + h) / adj(t))`` on adjusted
closes. A model forecasts a daily variance ``v(t)`` at the close of ``t``; the forecast
sd is ``sd_h(t) = sqrt(h * v(t))`` and a range is ``q_lo * sd_h .. q_hi * sd_h`` with
``q`` quantiles of past *standardised* returns ``z = L_h / sd_h``. Everything is causal
(:mod:`engine.causal`): fits and quantiles use only returns whose window has closed.

Models, in order of preference on each day (the first that is available wins):

* ``HAR-X``: a HAR regression in logs. Daily variance from the bar, ``rv = log(open /
  previous close)^2 + 0.5 log(high / low)^2 - (2 log 2 - 1) log(close / open)^2``
  (overnight gap plus Garman-Klass, as-traded prices; none where high == low, as in a
  close-only file). Target: log of the mean ``rv`` over the next ``h`` days; regressors:
  log of ``rv`` and of its 5- and 22-day means, plus log ``VIX^2 / 252`` (VIX as a
  fraction). OLS on every known row, refitted every ``refit_every`` rows once
  ``min_fit`` rows are known;
* ``HAR``: the same without VIX (no VIX history yet, or no VIX today);
* ``EWMA``: an exponentially weighted mean of squared close-to-close log returns,
  ``v(t) = lambda v(t - 1) + (1 - lambda) l(t)^2``, seeded with the mean of the first
  :data:`EWMA_SEED_ROWS` squares. Available from row :data:`EWMA_SEED_ROWS`.

Quantiles: empirical over the standardised returns of the last ``quantile_window`` rows
whose window has closed, recomputed every ``refit_every`` rows; they absorb the log
model's bias, the fat tails and the drift, so there is no separate mean term. A HAR
model is used only once its own quantiles exist (``min_fit`` standardised returns);
EWMA uses normal quantiles until then.

Prices: ``close * exp(q * sd_h)`` on the as-traded close (keeps prices positive and
matches the log model); simple returns ``exp(q * sd_h) - 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.causal import FloatArray, IntArray, known_cumsum, refit_rows, refit_slot
from engine.state import EngineParams, VolModel

#: The central ranges every forecast carries (fractions of probability).
RANGE_LEVELS: Final = (0.68, 0.90)
#: HAR windows in trading days: daily, weekly and monthly means of the daily variance.
HAR_WINDOWS: Final = (1, 5, 22)
#: Squared returns averaged to seed the EWMA.
EWMA_SEED_ROWS: Final = 20
#: Trailing days of the constant realised-volatility band the walk-forward compares with.
REFERENCE_WINDOW: Final = 252
#: Share of a rolling window that must hold values for its mean to count.
_WINDOW_FILL: Final = 0.9
#: Volatility models by code (the code is the index; -1 means no model yet).
MODELS: Final[tuple[VolModel, ...]] = ("EWMA", "HAR", "HAR-X")

Int8Array = npt.NDArray[np.int8]


@dataclass(frozen=True)
class VolSettings:
    """The knobs of the volatility forecast (from :class:`engine.state.EngineParams`)."""

    ewma_lambda: float
    refit_every: int
    min_fit: int
    quantile_window: int

    @classmethod
    def of(cls, params: EngineParams) -> VolSettings:
        """The settings an :class:`~engine.state.EngineParams` holds."""
        return cls(
            ewma_lambda=params.ewma_lambda,
            refit_every=params.vol_refit_every,
            min_fit=params.vol_min_fit,
            quantile_window=params.quantile_window,
        )


def _probs(levels: tuple[float, ...] = RANGE_LEVELS) -> FloatArray:
    """Quantile probabilities ``[(1 - L) / 2, (1 + L) / 2]`` for each level, in order."""
    return np.array([p for lv in levels for p in ((1 - lv) / 2, (1 + lv) / 2)])


def log_returns(adj: FloatArray) -> FloatArray:
    """``l(t) = log(adj(t) / adj(t - 1))``; NaN on row 0."""
    out = np.full(adj.size, np.nan)
    out[1:] = np.log(adj[1:] / adj[:-1])
    return out


def horizon_log_returns(adj: FloatArray, h: int) -> FloatArray:
    """``L_h(t) = log(adj(t + h) / adj(t))``: the outcome, NaN past the data."""
    out = np.full(adj.size, np.nan)
    if adj.size > h:
        out[: adj.size - h] = np.log(adj[h:] / adj[:-h])
    return out


def range_variance(
    open_: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray
) -> FloatArray:
    """Daily variance from the bar (module docstring); NaN where the bar has no range."""
    prev = np.concatenate([[np.nan], close[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.log(open_ / prev)
        gk = 0.5 * np.log(high / low) ** 2 - (2 * math.log(2) - 1) * np.log(close / open_) ** 2
        rv = gap**2 + gk
        out: FloatArray = np.where((high > low) & (rv > 0), rv, np.nan)
    return out


def ewma_variance(l: FloatArray, lam: float, seed_rows: int = EWMA_SEED_ROWS) -> FloatArray:  # noqa: E741
    """EWMA daily variance at each close (module docstring); NaN before ``seed_rows``.

    A missing return leaves the variance unchanged that day.
    """
    out = np.full(l.size, np.nan)
    if l.size <= seed_rows:
        return out
    squares = l * l
    seed = float(np.nanmean(squares[1 : seed_rows + 1]))
    series = pd.Series(np.concatenate([[seed], squares[seed_rows + 1 :]]))
    out[seed_rows:] = series.ewm(alpha=1.0 - lam, adjust=False, ignore_na=True).mean().to_numpy()
    return out


def rolling_mean(x: FloatArray, window: int) -> FloatArray:
    """Trailing mean of the last ``window`` values, NaN unless 90% of them exist."""
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(x))])
    k = np.concatenate([[0.0], np.cumsum(~np.isnan(x))])
    out = np.full(x.size, np.nan)
    if x.size >= window:
        s = c[window:] - c[:-window]
        n = k[window:] - k[:-window]
        out[window - 1 :] = np.where(n >= window * _WINDOW_FILL, s / np.maximum(n, 1.0), np.nan)
    return out


def forward_mean(x: FloatArray, h: int) -> FloatArray:
    """``mean(x[s + 1 .. s + h])``: an outcome known at ``s + h``; NaN if any is missing."""
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(x))])
    k = np.concatenate([[0], np.cumsum(np.isnan(x))])
    out = np.full(x.size, np.nan)
    if x.size > h:
        s = c[1 + h :] - c[1 : x.size + 1 - h]
        missing = k[1 + h :] - k[1 : x.size + 1 - h]
        out[: x.size - h] = np.where(missing == 0, s / h, np.nan)
    return out


def har_variance(
    rv: FloatArray, h: int, every: int, min_fit: int, extra: FloatArray | None = None
) -> FloatArray:
    """The HAR(-X) daily variance forecast in logs (module docstring); NaN where unfit.

    ``extra`` is an additional positive regressor (VIX^2 / 252), logged like the rest.
    Refits on rows ``0, every, ...`` with at least ``min_fit`` known rows.
    """
    columns = [rolling_mean(rv, w) if w > 1 else rv for w in HAR_WINDOWS]
    if extra is not None:
        columns.append(extra)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.column_stack([np.ones(rv.size), np.log(np.column_stack(columns))])
        target = np.log(forward_mean(rv, h))
    good = np.isfinite(x).all(axis=1) & np.isfinite(target)
    xg = np.where(good[:, None], x, 0.0)
    tg = np.where(good, target, 0.0)
    rows = refit_rows(rv.size, every)
    xtx = known_cumsum(xg[:, :, None] * xg[:, None, :], h)[rows]
    xty = known_cumsum(xg * tg[:, None], h)[rows]
    enough = known_cumsum(good, h)[rows] >= min_fit
    coefs = np.full((rows.size, x.shape[1]), np.nan)
    if enough.any():
        a = xtx[enough]
        # a whisper of ridge keeps a degenerate regressor (a constant VIX) from failing
        ridge = 1e-10 * np.trace(a, axis1=1, axis2=2) / a.shape[1]
        a = a + ridge[:, None, None] * np.eye(a.shape[1])
        coefs[enough] = np.linalg.solve(a, xty[enough][:, :, None])[:, :, 0]
    with np.errstate(invalid="ignore", over="ignore"):
        out: FloatArray = np.exp((x * coefs[refit_slot(rv.size, every)]).sum(axis=1))
    return out


def standardised(outcome: FloatArray, variance: FloatArray, h: int) -> FloatArray:
    """``z = L_h / sqrt(h * v)``; NaN where either is missing or the sd is zero."""
    with np.errstate(invalid="ignore", divide="ignore"):
        z = outcome / np.sqrt(h * variance)
    out: FloatArray = np.where(np.isfinite(z), z, np.nan)
    return out


def empirical_quantiles(
    z: FloatArray,
    h: int,
    every: int,
    window: int,
    min_n: int,
    wanted: npt.NDArray[np.bool_] | None = None,
) -> tuple[FloatArray, IntArray]:
    """``(Q, n)``: quantiles of the known ``z`` of the last ``window`` rows on every row.

    ``Q[t]`` holds ``[lo68, hi68, lo90, hi90]`` (:data:`RANGE_LEVELS`) from the refit
    row at or before ``t``, using ``z[s]`` for ``s <= refit - h``; ``n[t]`` is how many
    values that was, or 0 where fewer than ``min_n`` existed and ``Q`` holds the normal
    quantiles instead. With ``wanted`` (a row mask), only the refits those rows read are
    computed; the other rows get the normal quantiles and ``n = 0``.
    """
    probs = _probs()
    normal = np.array([NormalDist().inv_cdf(p) for p in probs])
    slot = refit_slot(z.size, every)
    rows = refit_rows(z.size, every)
    if wanted is not None:
        rows = rows[np.unique(slot[wanted])]
    # The window of refit row r is z[r - h + 1 - window .. r - h]; padding the front
    # with NaN makes every window a full-width slice, so all refits sort in one call.
    padded = np.concatenate([np.full(window, np.nan), np.where(np.isfinite(z), z, np.nan)])
    ends = np.clip(rows - h + 1, 0, None)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)[ends]
    n = np.isfinite(windows).sum(axis=1)
    # numpy's default (linear) quantile: interpolate between the order statistics
    # around p * (n - 1); NaN sorts last, so only the first n values are read.
    at = probs[None, :] * (np.maximum(n, 1) - 1)[:, None]
    below = np.floor(at).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(n, 1)[:, None] - 1)
    ordered = np.sort(windows, axis=1)
    lo_v = np.take_along_axis(ordered, below, axis=1)
    hi_v = np.take_along_axis(ordered, above, axis=1)
    enough = n >= min_n
    q_all = np.tile(normal, (refit_rows(z.size, every).size, 1))
    n_all = np.zeros(q_all.shape[0], dtype=np.int64)
    q_all[rows // max(every, 1)] = np.where(
        enough[:, None], lo_v + (at - below) * (hi_v - lo_v), normal[None, :]
    )
    n_all[rows // max(every, 1)] = np.where(enough, n, 0)
    return q_all[slot], n_all[slot]


@dataclass(frozen=True)
class MoveArrays:
    """The ranges of one horizon on every row.

    ``sd``: forecast sd of the ``h``-day log return (NaN before any model exists);
    ``q``: standardised quantiles ``[lo68, hi68, lo90, hi90]``; ``model``: index into
    :data:`MODELS` (-1: none); ``quantile_n``: standardised returns behind ``q`` (0:
    normal quantiles).
    """

    horizon: int
    sd: FloatArray
    q: FloatArray
    model: Int8Array
    quantile_n: IntArray

    def bounds(self, level: float) -> tuple[FloatArray, FloatArray]:
        """Log-return range ends at ``level`` (one of :data:`RANGE_LEVELS`) on every row."""
        j = RANGE_LEVELS.index(level)
        return self.q[:, 2 * j] * self.sd, self.q[:, 2 * j + 1] * self.sd


def _ranges(
    variance: FloatArray,
    outcome: FloatArray,
    h: int,
    vs: VolSettings,
    wanted: npt.NDArray[np.bool_] | None = None,
) -> tuple[FloatArray, IntArray]:
    z = standardised(outcome, variance, h)
    return empirical_quantiles(z, h, vs.refit_every, vs.quantile_window, vs.min_fit, wanted)


def move_arrays(
    adj: FloatArray,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    vix: FloatArray,
    h: int,
    vs: VolSettings,
    only: npt.NDArray[np.bool_] | None = None,
) -> MoveArrays:
    """The ranges of horizon ``h`` on every row, each day from the best model available.

    Models are tried in order of preference; each fills the rows still without one where
    it is available (a HAR model only once its own quantiles exist), so each model's
    quantiles are computed only for the refits those rows read, and a model is not fitted
    at all when every row already has a better one. With ``only`` (a row mask), only
    those rows are filled (the others keep ``model == -1``); their figures are the same
    as without the mask.
    """
    n = adj.size
    outcome = horizon_log_returns(adj, h)
    rv = range_variance(open_, high, low, close)
    vix_var = (vix / 100.0) ** 2 / 252.0
    sd = np.full(n, np.nan)
    q = np.tile(np.array([NormalDist().inv_cdf(p) for p in _probs()]), (n, 1))
    qn = np.zeros(n, dtype=np.int64)
    model = np.full(n, -1, dtype=np.int8)
    for code in (2, 1, 0):  # HAR-X, HAR, EWMA
        left = model < 0 if only is None else (model < 0) & only
        # HAR-X needs today's VIX among its regressors: no row left has one, no fit.
        if not left.any() or (code == 2 and not np.isfinite(vix_var[left]).any()):
            continue
        if code == 0:
            v = ewma_variance(log_returns(adj), vs.ewma_lambda)
        else:
            v = har_variance(rv, h, vs.refit_every, vs.min_fit, vix_var if code == 2 else None)
        can = left & np.isfinite(v)
        if not can.any():
            continue
        q_m, n_m = _ranges(v, outcome, h, vs, can)
        use = can if code == 0 else can & (n_m > 0)
        sd[use] = np.sqrt(h * v[use])
        q[use] = q_m[use]
        qn[use] = n_m[use]
        model[use] = code
    return MoveArrays(horizon=h, sd=sd, q=q, model=model, quantile_n=qn)


def reference_arrays(adj: FloatArray, h: int, vs: VolSettings) -> MoveArrays:
    """The constant band: trailing :data:`REFERENCE_WINDOW`-day realised variance with the
    same rolling empirical quantiles. The walk-forward's volatility-only baseline."""
    l = log_returns(adj)  # noqa: E741
    variance = rolling_mean(l * l, REFERENCE_WINDOW)
    q, qn = _ranges(variance, horizon_log_returns(adj, h), h, vs)
    model = np.where(np.isfinite(variance), 0, -1).astype(np.int8)
    return MoveArrays(horizon=h, sd=np.sqrt(h * variance), q=q, model=model, quantile_n=qn)
