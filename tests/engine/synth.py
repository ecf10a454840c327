"""Synthetic markets for the forecast tests: clustered rule fires, planted edges, GARCH.

Every generator takes a seeded ``numpy.random.Generator``; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.edge import forward_returns
from engine.forecast import ForecastArrays, forecast_arrays
from engine.state import EngineParams

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def markov_fires(rng: np.random.Generator, n: int, rate: float, stay: float) -> BoolArray:
    """A rule that fires on about ``rate`` of days, in runs (P(still on) = ``stay``)."""
    start = rate * (1 - stay) / (1 - rate)
    u = rng.random(n)
    out = np.zeros(n, dtype=bool)
    for t in range(1, n):
        out[t] = u[t] < (stay if out[t - 1] else start)
    return out


def closes(log_returns: FloatArray) -> FloatArray:
    """Closes from bar log returns (``log_returns[t]``: close t-1 to close t)."""
    x = np.asarray(log_returns, dtype=np.float64).copy()
    x[0] = 0.0
    out: FloatArray = 100.0 * np.exp(np.cumsum(x))
    return out


def frame(
    close: FloatArray,
    *,
    open_: FloatArray | None = None,
    high: FloatArray | None = None,
    low: FloatArray | None = None,
    vix: FloatArray | None = None,
) -> pd.DataFrame:
    """A canonical daily frame; a close-only frame when the bar is not given."""
    n = close.size
    idx = pd.bdate_range("2000-01-03", periods=n, name="date")
    return pd.DataFrame(
        {
            "open": close if open_ is None else open_,
            "high": close if high is None else high,
            "low": close if low is None else low,
            "close": close,
            "adj_close": close,
            "volume": np.nan,
            "vix": np.full(n, np.nan) if vix is None else vix,
            "gex": np.nan,
            "dark_pool": np.nan,
        },
        index=idx,
    )


def run(
    daily: pd.DataFrame,
    fires: Sequence[BoolArray] = (),
    names: Sequence[str] | None = None,
    params: EngineParams | None = None,
) -> ForecastArrays:
    """The forecast pipeline on a synthetic frame and rules (named R0, R1, ... by default)."""
    labels = list(names) if names is not None else [f"R{i}" for i in range(len(fires))]
    table = pd.DataFrame(dict(zip(labels, fires, strict=True)), index=daily.index)
    return forecast_arrays(daily, table, forward_returns(daily), labels, params or EngineParams())


def planted(
    seed: int, n: int = 5000, p_up: float = 0.65
) -> tuple[pd.DataFrame, BoolArray, BoolArray]:
    """A rule firing on ~15% of days after which the next day rises with ``p_up``, and a
    noise rule alongside. Returns (frame, edge rule, noise rule)."""
    from statistics import NormalDist

    rng = np.random.default_rng(seed)
    edge = markov_fires(rng, n, 0.15, 0.6)
    shift = NormalDist().inv_cdf(p_up)
    shocks = rng.normal(0.0, 1.0, n)
    # the bar after a fire (close t to t+1 is row t+1) gets the drift
    r = 0.01 * (shocks + np.concatenate([[0.0], shift * edge[:-1]])) + 0.0002
    noise = markov_fires(rng, n, 0.1, 0.7)
    return frame(closes(r)), edge, noise


def garch(seed: int, n: int = 6000, bars: bool = False) -> pd.DataFrame:
    """GARCH(1,1) returns with Student-t(5) shocks; with ``bars``, intraday OHLC and a VIX
    from the model's own next-day variance (with a premium and noise)."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta, nu, mu = 2e-6, 0.08, 0.90, 5.0, 0.0003
    v = omega / (1 - alpha - beta)
    ret = np.zeros(n)
    var = np.zeros(n + 1)
    for t in range(n):
        var[t] = v
        ret[t] = mu + np.sqrt(v) * rng.standard_t(nu) / np.sqrt(nu / (nu - 2))
        v = omega + alpha * (ret[t] - mu) ** 2 + beta * v
    var[n] = v
    close = closes(ret)
    if not bars:
        return frame(close)
    steps = 39
    prev = np.concatenate([[close[0]], close[:-1]])
    gap = rng.normal(0, 1, n) * np.sqrt(0.2 * var[:n])
    path = np.cumsum(rng.normal(0, 1, (n, steps)) * np.sqrt(0.8 * var[:n] / steps)[:, None], 1)
    frac = np.arange(1, steps + 1) / steps
    path = path - path[:, -1:] * frac + (np.log(close / prev) - gap)[:, None] * frac
    open_ = prev * np.exp(gap)
    intraday = open_[:, None] * np.exp(path)
    vix = 100 * np.sqrt(252 * var[1:]) * 1.15 * np.exp(rng.normal(0, 0.08, n))
    return frame(
        close,
        open_=open_,
        high=np.maximum(intraday.max(axis=1), open_),
        low=np.minimum(intraday.min(axis=1), open_),
        vix=vix,
    )
