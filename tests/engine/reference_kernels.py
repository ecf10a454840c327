"""The engine kernels as they were before the performance work, kept as references.

Tests compare the fast kernels in :mod:`engine.indicators`, :mod:`engine.stats` and
:mod:`engine.gex` against these, and ``make bench`` times them side by side. The code is
the previous implementation verbatim (renamed ``ref_*``): pandas objects one indicator at
a time, one ``(n_boot, n)`` index matrix and ``np.median`` for the bootstrap, and a
``spots x contracts`` array plus ``groupby`` for GEX. Helpers the change left alone
(Black-Scholes gamma, the flip interpolation, the walls) are imported from the engine.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.gex import (
    _EXPIRY_HOUR,
    _SQRT_2PI,
    CONTRACT_MULTIPLIER,
    DEFAULT_DIVIDEND_YIELD,
    DEFAULT_RISK_FREE_RATE,
    MIN_T_YEARS,
    GexResult,
    _flip,
    _validate,
    _wall,
    bs_gamma,
    to_exchange_naive,
)
from engine.indicators import (
    ATR_PERIOD,
    BB_PERIOD,
    BB_WIDTH,
    RSI_PERIOD,
    TRADING_DAYS_PER_YEAR,
    TREND_SLOPE_LOOKBACK,
)

FloatArray = npt.NDArray[np.float64]


# ---- engine.stats -------------------------------------------------------------------


def ref_block_bootstrap_ci(
    values: FloatArray,
    *,
    block: int,
    n_boot: int = 2000,
    seed: int | Sequence[int] = 0,
    level: float = 0.95,
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 2 or n_boot <= 0:
        return None, None
    b = max(1, min(int(block), n))
    n_blocks = -(-n // b)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - b + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(b)[None, None, :]).reshape(n_boot, n_blocks * b)
    sample = x[idx[:, :n]]
    tail = (1.0 - level) / 2.0 * 100.0
    qs = (tail, 100.0 - tail)
    means = sample.mean(axis=1)
    medians = np.median(sample, axis=1)
    m_lo, m_hi = np.percentile(means, qs)
    d_lo, d_hi = np.percentile(medians, qs)
    return (float(m_lo), float(m_hi)), (float(d_lo), float(d_hi))


def ref_effective_sample_size(positions: npt.NDArray[np.int64], horizon: int) -> float:
    pos = np.unique(np.asarray(positions, dtype=np.int64))
    n = int(pos.size)
    if n == 0:
        return 0.0
    if horizon <= 1:
        return float(n)
    pair_sum = 0.0
    for d in range(1, horizon):
        if d == 1:
            pairs = int(np.count_nonzero(np.diff(pos) == d))
        else:
            pairs = int(np.isin(pos + d, pos, assume_unique=True).sum())
        pair_sum += pairs * (2.0 / math.pi) * math.asin((horizon - d) / horizon)
    return n / (1.0 + 2.0 * pair_sum / n)


# ---- engine.indicators --------------------------------------------------------------


def ref_wilder_smooth(values: pd.Series, period: int) -> pd.Series:
    """Wilder's moving average (alpha = 1/period) seeded with a simple mean.

    The first output sits at the ``period``-th non-NaN input and equals the mean of the
    first ``period`` inputs; later outputs are ``prev + (x - prev) / period``.
    """
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    valid = values.dropna()
    if len(valid) < period:
        return out
    seed_label = valid.index[period - 1]
    tail = valid.loc[seed_label:].copy()
    tail.iloc[0] = valid.iloc[:period].mean()
    smoothed = tail.ewm(alpha=1.0 / period, adjust=False).mean()
    out.loc[smoothed.index] = smoothed.to_numpy()
    return out


def ref_rsi(close: pd.Series, period: int = RSI_PERIOD) -> pd.Series:
    """Wilder RSI, 0-100; NaN for the first ``period`` rows."""
    delta = close.diff()
    gain = ref_wilder_smooth(delta.clip(lower=0.0), period)
    loss = ref_wilder_smooth((-delta).clip(lower=0.0), period)
    with np.errstate(divide="ignore", invalid="ignore"):
        rs = gain / loss
    out = 100.0 - 100.0 / (1.0 + rs)
    # No losses at all in the window: RSI is 100 by definition (rs is +inf).
    return out.where(loss != 0.0, np.where(gain > 0.0, 100.0, 50.0)).where(gain.notna())


def ref_true_range(high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """max(high-low, |high-prev close|, |low-prev close|); NaN on the first row."""
    prev = close.shift(1)
    ranges = pd.concat([high - low, (high - prev).abs(), (low - prev).abs()], axis=1)
    return ranges.max(axis=1, skipna=False)


def ref_atr(
    high: pd.Series, low: pd.Series, close: pd.Series, period: int = ATR_PERIOD
) -> pd.Series:
    """Wilder ATR in price units (USD)."""
    return ref_wilder_smooth(ref_true_range(high, low, close), period)


def ref_macd(close: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """MACD(12, 26, 9): (macd line, signal line, histogram), USD.

    NaN for the first 33 rows, the warm-up TA-Lib also leaves empty.
    """
    line = close.ewm(span=12, adjust=False).mean() - close.ewm(span=26, adjust=False).mean()
    signal = line.ewm(span=9, adjust=False).mean()
    warm = np.arange(len(close)) < 33
    hist = (line - signal).mask(warm)
    return line.mask(warm), signal.mask(warm), hist


def ref_sma20_slope(sma20: pd.Series) -> pd.Series:
    """SMA20 minus SMA20 five sessions earlier, USD: positive while the average rises."""
    return sma20 - sma20.shift(TREND_SLOPE_LOOKBACK)


def ref_trend_labels(close: pd.Series, sma20: pd.Series, sma50: pd.Series) -> pd.Series:
    """Uptrend / Downtrend / Sideways per day.

    * **Uptrend**: close above SMA50, SMA20 above SMA50, and SMA20 higher than it was
      five sessions earlier (the short average is rising).
    * **Downtrend**: the mirror image (close below SMA50, SMA20 below SMA50, SMA20
      falling).
    * **Sideways**: anything else, including the warm-up before SMA50 exists.
    """
    slope = ref_sma20_slope(sma20)
    up = (close > sma50) & (sma20 > sma50) & (slope > 0)
    down = (close < sma50) & (sma20 < sma50) & (slope < 0)
    return pd.Series(
        np.select([up.to_numpy(), down.to_numpy()], ["Uptrend", "Downtrend"], "Sideways"),
        index=close.index,
    )


def ref_compute_indicators(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :data:`INDICATOR_COLUMNS` added.

    ``frame`` must follow :mod:`engine.frame`. Nothing in the input is modified.
    """
    out = frame.copy()
    close = out["close"]
    out["prev_close"] = close.shift(1)
    out["change"] = close / out["prev_close"] - 1.0
    out["rsi14"] = ref_rsi(close)
    out["sma20"] = close.rolling(BB_PERIOD).mean()
    out["sma50"] = close.rolling(50).mean()
    out["sma200"] = close.rolling(200).mean()
    out["sma20_slope5"] = ref_sma20_slope(out["sma20"])
    out["bb_std20"] = close.rolling(BB_PERIOD).std(ddof=0)
    out["bb_middle"] = out["sma20"]
    out["bb_upper"] = out["sma20"] + BB_WIDTH * out["bb_std20"]
    out["bb_lower"] = out["sma20"] - BB_WIDTH * out["bb_std20"]
    width = out["bb_upper"] - out["bb_lower"]
    out["bb_percent_b"] = ((close - out["bb_lower"]) / width).where(width > 0)
    out["macd"], out["macd_signal"], out["macd_hist"] = ref_macd(close)
    out["atr14"] = ref_atr(out["high"], out["low"], close)
    out["atr14_pct"] = out["atr14"] / close
    adj = out["adj_close"].to_numpy(dtype="float64")
    log_ret = pd.Series(np.log(adj / np.concatenate([[np.nan], adj[:-1]])), index=out.index)
    out["realized_vol_20"] = log_ret.rolling(20).std(ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR)
    out["vix_mean10"] = out["vix"].rolling(10).mean()
    out["gex_prev"] = out["gex"].shift(1)
    out["dark_pool_mean20"] = out["dark_pool"].rolling(20, min_periods=10).mean()
    out["trend"] = ref_trend_labels(close, out["sma20"], out["sma50"])
    return out


# ---- engine.gex ---------------------------------------------------------------------


def ref_years_to_expiry(expirations: pd.Series, as_of: dt.datetime) -> FloatArray:
    """Calendar years from ``as_of`` to 16:00 exchange time on each expiration date."""
    now = pd.Timestamp(to_exchange_naive(as_of))
    expiry = pd.to_datetime(expirations).dt.normalize() + pd.Timedelta(hours=_EXPIRY_HOUR)
    seconds = (expiry - now).dt.total_seconds().to_numpy(dtype=np.float64)
    years: FloatArray = np.maximum(seconds / (365.0 * 86400.0), MIN_T_YEARS)
    return years


def ref_gamma_profile(
    spots: FloatArray,
    strike: FloatArray,
    t_years: FloatArray,
    iv: FloatArray,
    weight: FloatArray,
    r: float = DEFAULT_RISK_FREE_RATE,
    q: float = DEFAULT_DIVIDEND_YIELD,
) -> FloatArray:
    """Net GEX (USD per 1%) at each spot in ``spots``, recomputing BS gamma per spot.

    ``weight`` = sign * open_interest per contract. The spots x contracts array of
    d1 is built at once; the sum over contracts is a matrix-vector product.
    """
    s = np.asarray(spots, dtype=np.float64)
    vol_t = iv * np.sqrt(t_years)
    # Per-contract constants pulled out of the spot loop: gamma*S = exp(-qt) phi(d1)/(iv sqrt t).
    coef = weight * CONTRACT_MULTIPLIER * np.exp(-q * t_years) / (_SQRT_2PI * vol_t)
    shift = (r - q + 0.5 * iv * iv) * t_years - np.log(strike)
    d1 = (np.log(s)[:, None] + shift[None, :]) / vol_t[None, :]
    gamma_times_s = np.exp(-0.5 * d1 * d1) @ coef
    # sum(weight*100*gamma*S^2*0.01) = S*0.01*sum(weight*100*gamma*S)
    out: FloatArray = gamma_times_s * s * 0.01
    return out


def ref_compute_gex(
    chain: pd.DataFrame,
    spot: float,
    as_of: dt.datetime,
    *,
    r: float = DEFAULT_RISK_FREE_RATE,
    q: float = DEFAULT_DIVIDEND_YIELD,
    sweep: float = 0.20,
    n_points: int = 401,
    adv_dollars: float | None = None,
) -> GexResult:
    """GEX, its breakdowns, walls and flip level of ``chain`` at ``spot``.

    ``chain`` columns: ``expiration`` (date), ``side`` ('call'/'put'), ``strike`` (USD),
    ``open_interest`` (contracts; NaN counts as 0), ``iv`` (annualised fraction) and
    optionally ``gamma`` (per share; NaN means compute from iv). ``adv_dollars`` is the
    underlying's average daily dollar volume; when given, ``share_of_adv`` = net GEX /
    adv_dollars. Contracts with neither a usable gamma nor iv are left out (noted).
    """
    _validate(chain)
    if not (spot > 0 and math.isfinite(spot)):
        raise ValueError(f"spot must be a positive number, got {spot}")
    if n_points < 2 or sweep <= 0:
        raise ValueError("the sweep needs n_points >= 2 and sweep > 0")
    notes: list[str] = []
    side = chain["side"].astype(str).str.lower().to_numpy()
    is_call = side == "call"
    if not np.all(is_call | (side == "put")):
        raise ValueError("option side must be 'call' or 'put'")
    sign = np.where(is_call, 1.0, -1.0)
    strike = chain["strike"].to_numpy(dtype=np.float64)
    oi = np.nan_to_num(chain["open_interest"].to_numpy(dtype=np.float64), nan=0.0)
    iv = chain["iv"].to_numpy(dtype=np.float64)
    t = ref_years_to_expiry(chain["expiration"], as_of)
    given = (
        chain["gamma"].to_numpy(dtype=np.float64)
        if "gamma" in chain.columns
        else np.full(len(chain), np.nan)
    )
    computed = bs_gamma(spot, strike, t, iv, r, q)
    use_given = np.isfinite(given)
    gamma = np.where(use_given, given, computed)
    n_computed = int(np.sum(~use_given & np.isfinite(computed)))
    usable = np.isfinite(gamma)
    if not usable.all():
        notes.append(f"{int((~usable).sum())} contracts had neither gamma nor iv; left out")
    gamma = np.where(usable, gamma, 0.0)

    per_contract = sign * gamma * oi * CONTRACT_MULTIPLIER * spot * spot * 0.01
    exp_dates = pd.to_datetime(chain["expiration"]).dt.normalize()
    same_day = (exp_dates == pd.Timestamp(to_exchange_naive(as_of).date())).to_numpy()

    frame = pd.DataFrame(
        {
            "strike": strike,
            "expiration": exp_dates.to_numpy(),
            "call_gex": np.where(is_call, per_contract, 0.0),
            "put_gex": np.where(is_call, 0.0, per_contract),
            "net_gex": per_contract,
        }
    )
    by_strike = frame.groupby("strike")[["call_gex", "put_gex", "net_gex"]].sum().sort_index()
    by_expiry = frame.groupby("expiration").agg(
        call_gex=("call_gex", "sum"),
        put_gex=("put_gex", "sum"),
        net_gex=("net_gex", "sum"),
        contracts=("net_gex", "size"),
    )
    call_wall = _wall(by_strike["call_gex"], largest=True)
    put_wall = _wall(by_strike["put_gex"], largest=False)

    sweepable = (iv > 0) & np.isfinite(iv)
    if not sweepable.all():
        notes.append(f"{int((~sweepable).sum())} contracts without iv left out of the flip sweep")
    spots = np.linspace(spot * (1 - sweep), spot * (1 + sweep), n_points)
    prof = ref_gamma_profile(
        spots, strike[sweepable], t[sweepable], iv[sweepable], (sign * oi)[sweepable], r, q
    )
    net = float(per_contract.sum())
    return GexResult(
        spot=float(spot),
        as_of=as_of,
        net_gex=net,
        call_gex=float(per_contract[is_call].sum()),
        put_gex=float(per_contract[~is_call].sum()),
        net_gex_ex_same_day=float(per_contract[~same_day].sum()),
        flip_level=_flip(spots, prof, spot),
        call_wall=call_wall,
        put_wall=put_wall,
        share_of_adv=(net / adv_dollars) if adv_dollars else None,
        by_strike=by_strike,
        by_expiry=by_expiry,
        profile_spots=spots,
        profile_gex=prof,
        contracts=int(usable.sum()),
        gamma_computed=n_computed,
        notes=tuple(notes),
    )
