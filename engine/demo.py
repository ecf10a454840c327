"""A seeded, synthetic IWM-like dataset so ``make demo`` works offline.

It is *simulated*, not market data: every state built from it is flagged ``synthetic``
and carries a warning saying how to use real data.

The simulation walks through market regimes (calm uptrend, sell-off, rebound, chop)
with regime-specific drift and volatility. VIX mean-reverts toward a regime level and
jumps when prices fall; dealer GEX (USD per 1% move) falls as VIX rises and turns
negative in stress; the dark-pool ratio hovers near 1.1 with occasional bursts of
off-exchange buying. Quarterly dividends of about 0.3% make ``adj_close`` differ from
``close``. The same seed always gives the same data; no clock is read.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import pandas as pd

from engine.dataset import Dataset, assemble

DEMO_SOURCE: Final = "demo (synthetic)"

# (name, daily drift, daily vol, VIX target, mean length in days)
_REGIMES: Final = (
    ("calm uptrend", 0.0009, 0.009, 14.5, 90),
    ("sell-off", -0.0045, 0.024, 31.0, 18),
    ("rebound", 0.0035, 0.017, 22.0, 25),
    ("chop", 0.0000, 0.013, 18.5, 45),
)
_SEQUENCE: Final = (0, 3, 0, 1, 2, 0, 3, 1, 2, 0)


def _regime_path(n: int, rng: np.random.Generator) -> np.ndarray:
    path = np.empty(n, dtype=np.int64)
    i, k = 0, 0
    while i < n:
        regime = _SEQUENCE[k % len(_SEQUENCE)]
        length = max(8, int(rng.normal(_REGIMES[regime][4], _REGIMES[regime][4] * 0.3)))
        path[i : i + length] = regime
        i += length
        k += 1
    return path


def demo_dataset(seed: int = 42, end: dt.date = dt.date(2025, 12, 31), years: int = 4) -> Dataset:
    """``years`` of business days ending at ``end``, every series filled."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(end) - pd.DateOffset(years=years)
    index = pd.bdate_range(start, pd.Timestamp(end), name="date")
    n = len(index)
    regimes = _regime_path(n, rng)
    drift = np.array([_REGIMES[r][1] for r in regimes])
    vol = np.array([_REGIMES[r][2] for r in regimes])
    returns = drift + vol * rng.standard_t(df=5, size=n) / np.sqrt(5 / 3)

    close = 180.0 * np.exp(np.cumsum(np.log1p(returns)))
    gap = rng.normal(0, 0.3, n) * vol
    open_ = np.concatenate([[close[0]], close[:-1]]) * (1 + gap)
    span = np.abs(rng.normal(0, 0.6, n)) * vol
    high = np.maximum(open_, close) * (1 + span)
    low = np.minimum(open_, close) * (1 - span * rng.uniform(0.6, 1.2, n))
    volume = np.round(25e6 * np.exp(rng.normal(0, 0.25, n)) * (vol / 0.012))

    ex_div = np.zeros(n, dtype=bool)
    ex_div[::63] = True
    ex_div[0] = False
    later_divs = np.cumsum(ex_div[::-1])[::-1] - ex_div  # ex-dates strictly after t
    adj_close = close * (1 - 0.003) ** later_divs

    target = np.array([_REGIMES[r][3] for r in regimes])
    vix = np.empty(n)
    vix[0] = target[0]
    for t in range(1, n):
        shock = -70.0 * min(returns[t], 0.0) + rng.normal(0, 0.7)
        vix[t] = vix[t - 1] + 0.15 * (target[t] - vix[t - 1]) + shock
    vix = np.clip(vix, 9.5, 80.0)

    gex = (20.5 - vix) * 1.2e8 + rng.normal(0, 2.5e8, n)

    short_share = np.clip(rng.normal(0.52, 0.03, n), 0.3, 0.75)
    bursts = rng.random(n) < 0.05
    short_share[bursts] = rng.uniform(0.6, 0.7, bursts.sum())
    dark_pool = short_share / (1 - short_share)

    prices = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "adj_close": adj_close,
            "volume": volume,
        },
        index=index,
    )
    aux = {
        "vix": pd.Series(vix, index=index),
        "gex": pd.Series(gex, index=index),
        "dark_pool": pd.Series(dark_pool, index=index),
    }
    sources = {name: DEMO_SOURCE for name in ("prices", "vix", "gex", "dark_pool")}
    return assemble(prices, aux, sources, synthetic=True)
