"""Dealer gamma exposure (GEX) of an option chain, vectorised with numpy.

Pure: a chain DataFrame, a spot and an as-of time in, a :class:`GexResult` out.

Conventions (see DESIGN.md):

* GEX of one contract = sign * gamma * open_interest * 100 * S^2 * 0.01, in USD of
  delta per 1% move of the underlying; sign is +1 for calls and -1 for puts (dealers
  assumed long calls, short puts). 100 is the contract multiplier.
* gamma is the chain's own where given and finite, else Black-Scholes gamma from the
  contract's implied volatility (annualised fraction, 0.25 = 25%).
* Time to expiry is measured in calendar years (365 days) from ``as_of`` to 16:00
  exchange time on the expiration date, floored at :data:`MIN_T_YEARS` so a same-day
  expiry past the close does not divide by zero.
* The zero-gamma (flip) level is found on a spot sweep: the whole chain's gamma is
  recomputed with Black-Scholes at each of ``n_points`` spots across +-``sweep`` of
  spot, and the crossing of zero nearest to spot is linearly interpolated between grid
  points.

Cost: the sweep is ``n_points x contracts`` Black-Scholes evaluations. It runs over a
few spots at a time in one reused buffer of about :data:`SWEEP_CHUNK_ELEMENTS` values
(2 MB), with in-place ufuncs, so memory stays flat however large the chain. The
per-strike and per-expiry sums group factorised keys with a radix sort and add each
group nearly exactly (:func:`_group_sums`) instead of going through a pandas groupby.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

EXCHANGE_TZ: Final = ZoneInfo("America/New_York")
#: US Treasury bill yield, a rough 2025-26 level; GEX is insensitive to it.
DEFAULT_RISK_FREE_RATE: Final = 0.04
#: IWM's trailing dividend yield (about 1.2% a year).
DEFAULT_DIVIDEND_YIELD: Final = 0.012
#: One hour, in years: the floor on time to expiry for contracts at or past expiry.
MIN_T_YEARS: Final = 1.0 / (365.0 * 24.0)
CONTRACT_MULTIPLIER: Final = 100.0
_EXPIRY_HOUR: Final = 16
_SQRT_2PI: Final = math.sqrt(2.0 * math.pi)
REQUIRED_COLUMNS: Final = ("expiration", "side", "strike", "open_interest", "iv")
#: Values per block of the spot sweep (2 MB of float64): cache-sized, and the whole
#: sweep's working memory whatever the chain's size.
SWEEP_CHUNK_ELEMENTS: Final = 1 << 18


@dataclass(frozen=True)
class GexResult:
    """Everything computed from one chain snapshot. GEX figures in USD per 1% move."""

    spot: float
    as_of: dt.datetime
    net_gex: float
    call_gex: float
    put_gex: float
    net_gex_ex_same_day: float
    flip_level: float | None
    call_wall: float | None
    put_wall: float | None
    share_of_adv: float | None
    by_strike: pd.DataFrame  # index strike; columns call_gex, put_gex, net_gex
    by_expiry: pd.DataFrame  # index expiration; columns call_gex, put_gex, net_gex, contracts
    profile_spots: FloatArray = field(repr=False)
    profile_gex: FloatArray = field(repr=False)
    contracts: int = 0
    gamma_computed: int = 0
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, object]:
        """The snapshot's scalar figures by name (what the store and ``gex --json`` keep)."""
        return {
            "as_of": self.as_of.isoformat(),
            "spot": self.spot,
            "net_gex": self.net_gex,
            "call_gex": self.call_gex,
            "put_gex": self.put_gex,
            "net_gex_ex_same_day": self.net_gex_ex_same_day,
            "flip_level": self.flip_level,
            "call_wall": self.call_wall,
            "put_wall": self.put_wall,
            "share_of_adv": self.share_of_adv,
            "contracts": self.contracts,
        }


def to_exchange_naive(ts: dt.datetime) -> dt.datetime:
    """Exchange-local (US/Eastern) wall time without tzinfo; naive input is taken as is."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(EXCHANGE_TZ).replace(tzinfo=None)
    return ts


def years_to_expiry(expirations: pd.Series, as_of: dt.datetime) -> FloatArray:
    """Calendar years from ``as_of`` to 16:00 exchange time on each expiration date.

    Floored at :data:`MIN_T_YEARS`; NaN where the expiration is missing.
    """
    codes, days = _expiry_days(expirations)
    return _years_by_code(codes, days, as_of)


def _expiry_days(expirations: pd.Series) -> tuple[npt.NDArray[np.intp], pd.DatetimeIndex]:
    """Each contract's expiration date as a code into the distinct dates (-1 if missing).

    A chain has a few dozen expirations; everything per expiration is computed once.
    Datetime columns (what the chain readers give) are factorised before normalising;
    other columns are converted whole first, so pandas infers one format and unit.
    """
    if pd.api.types.is_datetime64_dtype(expirations.dtype):
        raw_codes, raw = pd.factorize(expirations)
        day_codes, days = pd.factorize(pd.DatetimeIndex(raw).normalize())
        codes = np.append(np.asarray(day_codes, dtype=np.intp), -1)[raw_codes]
    else:
        normalized = pd.to_datetime(expirations).dt.normalize()
        factorized, days = pd.factorize(normalized)
        codes = np.asarray(factorized, dtype=np.intp)
    return codes, pd.DatetimeIndex(days)


def _years_by_code(
    codes: npt.NDArray[np.intp], days: pd.DatetimeIndex, as_of: dt.datetime
) -> FloatArray:
    now = pd.Timestamp(to_exchange_naive(as_of))
    seconds = ((days + pd.Timedelta(hours=_EXPIRY_HOUR)) - now).total_seconds()
    per_day = np.maximum(np.asarray(seconds, dtype=np.float64) / (365.0 * 86400.0), MIN_T_YEARS)
    years: FloatArray = np.append(per_day, np.nan)[codes]  # code -1 picks the NaN
    return years


def bs_gamma(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    iv: npt.ArrayLike,
    r: float = DEFAULT_RISK_FREE_RATE,
    q: float = DEFAULT_DIVIDEND_YIELD,
) -> FloatArray:
    """Black-Scholes-Merton gamma (per share, per USD of spot), broadcasting its inputs.

    gamma = exp(-q t) * phi(d1) / (S * iv * sqrt(t)),
    d1 = (ln(S/K) + (r - q + iv^2/2) t) / (iv sqrt(t)). NaN where iv <= 0 or missing.
    """
    s = np.asarray(spot, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    t = np.asarray(t_years, dtype=np.float64)
    sig = np.asarray(iv, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        vol_t = sig * np.sqrt(t)
        d1 = (np.log(s / k) + (r - q + 0.5 * sig * sig) * t) / vol_t
        g = np.exp(-q * t) * np.exp(-0.5 * d1 * d1) / (_SQRT_2PI * s * vol_t)
    out: FloatArray = np.where(sig > 0, g, np.nan)
    return out


def _validate(chain: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in chain.columns]
    if missing:
        raise ValueError(f"option chain lacks columns {missing}; has {list(chain.columns)}")


def gamma_profile(
    spots: FloatArray,
    strike: FloatArray,
    t_years: FloatArray,
    iv: FloatArray,
    weight: FloatArray,
    r: float = DEFAULT_RISK_FREE_RATE,
    q: float = DEFAULT_DIVIDEND_YIELD,
) -> FloatArray:
    """Net GEX (USD per 1%) at each spot in ``spots``, recomputing BS gamma per spot.

    ``weight`` = sign * open_interest per contract. Per-contract constants are computed
    once; the spots are then swept a block of rows at a time in one reused buffer of
    about :data:`SWEEP_CHUNK_ELEMENTS` values (-d1^2/2, its exponential in place, then
    a matrix-vector product with the constants), so memory does not grow with
    ``spots x contracts``.
    """
    s = np.asarray(spots, dtype=np.float64)
    vol_t = iv * np.sqrt(t_years)
    # Per-contract constants pulled out of the spot loop: gamma*S = exp(-qt) phi(d1)/(iv sqrt t).
    coef = weight * CONTRACT_MULTIPLIER * np.exp(-q * t_years) / (_SQRT_2PI * vol_t)
    shift = (r - q + 0.5 * iv * iv) * t_years - np.log(strike)
    # -d1^2 / 2 = (ln S + shift)^2 * (-1 / (2 iv^2 t)): one multiplication per pair, no
    # division (a few ulps from the textbook order, ~1e-16 of the profile).
    neg_half_precision = -0.5 / (vol_t * vol_t)
    log_s = np.log(s)
    gamma_times_s = np.empty(s.size, dtype=np.float64)
    rows = max(1, SWEEP_CHUNK_ELEMENTS // max(shift.size, 1))
    buffer = np.empty((min(rows, s.size), shift.size), dtype=np.float64)
    for i in range(0, s.size, rows):
        block = buffer[: min(rows, s.size - i)]
        np.add(log_s[i : i + block.shape[0], None], shift, out=block)
        np.multiply(block, block, out=block)
        np.multiply(block, neg_half_precision, out=block)
        np.exp(block, out=block)
        np.matmul(block, coef, out=gamma_times_s[i : i + block.shape[0]])
    # sum(weight*100*gamma*S^2*0.01) = S*0.01*sum(weight*100*gamma*S)
    out: FloatArray = gamma_times_s * s * 0.01
    return out


def _flip(spots: FloatArray, prof: FloatArray, spot: float) -> float | None:
    """Zero crossing of the profile nearest to spot, linearly interpolated."""
    sign = np.sign(prof)
    idx = np.nonzero(sign[:-1] * sign[1:] < 0)[0]
    exact = np.nonzero(prof == 0.0)[0]
    candidates: list[float] = [float(spots[i]) for i in exact]
    for i in idx:
        x0, x1, y0, y1 = spots[i], spots[i + 1], prof[i], prof[i + 1]
        candidates.append(float(x0 - y0 * (x1 - x0) / (y1 - y0)))
    if not candidates:
        return None
    return min(candidates, key=lambda x: abs(x - spot))


def compute_gex(
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
    is_call = _is_call(chain["side"])
    sign = np.where(is_call, 1.0, -1.0)
    strike = chain["strike"].to_numpy(dtype=np.float64)
    oi = np.nan_to_num(chain["open_interest"].to_numpy(dtype=np.float64), nan=0.0)
    iv = chain["iv"].to_numpy(dtype=np.float64)
    exp_codes, exp_days = _expiry_days(chain["expiration"])
    t = _years_by_code(exp_codes, exp_days, as_of)
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
    today = pd.Timestamp(to_exchange_naive(as_of).date())
    same_day = np.append(exp_days == today, False)[exp_codes]
    call_part = np.where(is_call, per_contract, 0.0)
    put_part = np.where(is_call, 0.0, per_contract)
    by_strike = _sums_by_key(
        strike, {"call_gex": call_part, "put_gex": put_part, "net_gex": per_contract}, "strike"
    )
    by_expiry = _sums_by_code(
        exp_codes,
        exp_days,
        {"call_gex": call_part, "put_gex": put_part, "net_gex": per_contract},
        "expiration",
        count="contracts",
    )
    call_wall = _wall(by_strike["call_gex"], largest=True)
    put_wall = _wall(by_strike["put_gex"], largest=False)

    sweepable = (iv > 0) & np.isfinite(iv)
    if not sweepable.all():
        notes.append(f"{int((~sweepable).sum())} contracts without iv left out of the flip sweep")
    spots = np.linspace(spot * (1 - sweep), spot * (1 + sweep), n_points)
    prof = gamma_profile(
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


def _is_call(side: pd.Series) -> npt.NDArray[np.bool_]:
    """True for calls; 'call'/'put' in any letter case. ValueError for anything else.

    Compares the raw values first (the usual lower-case chain costs two array
    comparisons) and lower-cases only the rows that are neither, as ``str(x).lower()``.
    """
    values = side.to_numpy(dtype=object)
    is_call = np.asarray(values == "call", dtype=bool)
    rest = np.flatnonzero(~is_call)
    odd = rest[np.asarray(values[rest] != "put", dtype=bool)]
    if odd.size:
        lowered = side.iloc[odd].astype(str).str.lower().to_numpy()
        if not np.all((lowered == "call") | (lowered == "put")):
            raise ValueError("option side must be 'call' or 'put'")
        is_call[odd] = lowered == "call"
    return is_call


def _sums_by_key(keys: FloatArray, values: dict[str, FloatArray], name: str) -> pd.DataFrame:
    """``DataFrame(values).groupby(keys).sum()``: rows sorted by key, NaN keys left out."""
    codes, uniques = pd.factorize(keys)
    return _sums_by_code(np.asarray(codes, dtype=np.intp), pd.Index(uniques), values, name)


def _sums_by_code(
    codes: npt.NDArray[np.intp],
    uniques: pd.Index,
    values: dict[str, FloatArray],
    name: str,
    count: str | None = None,
) -> pd.DataFrame:
    """Sums of ``values`` per code (-1 = no key, left out), one row per unique, sorted.

    What ``groupby(...).sum()`` gives (NaN counts as 0), with each group's sum from
    :func:`_group_sums`. ``count`` names an extra column with the rows per key.
    """
    order = np.argsort(np.asarray(uniques), kind="stable")
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    kept = np.flatnonzero(codes >= 0)
    group = rank[codes[kept]]
    # Grouped, in row order within a group; 16-bit keys let numpy use a radix sort.
    small = group.astype(np.int16) if order.size <= np.iinfo(np.int16).max else group
    rows = kept[np.argsort(small, kind="stable")]
    sizes = np.bincount(group, minlength=order.size)
    columns: dict[str, npt.NDArray[Any]] = {
        col: _group_sums(v[rows], sizes) for col, v in values.items()
    }
    if count is not None:
        columns[count] = sizes.astype(np.int64)
    return pd.DataFrame(columns, index=uniques[order].rename(name))


def _group_sums(x: FloatArray, sizes: npt.NDArray[np.intp]) -> FloatArray:
    """Sum of each run of ``sizes[g] >= 1`` consecutive values of ``x``; NaN counts as 0.

    Nearly exact, like pandas' compensated groupby sum (calls and puts cancel in a net
    figure, where a plain running sum loses digits): each value is split into a part on
    a power-of-two grid, coarse enough for the group's parts to add up exactly, and a
    remainder under half a grid step, whose own rounding errors are ~2^-52 smaller.
    """
    if sizes.size == 0:
        return np.zeros(0, dtype=np.float64)
    x = np.where(np.isnan(x), 0.0, x)
    starts = np.cumsum(sizes) - sizes
    if not np.isfinite(x).all():
        sums: FloatArray = np.add.reduceat(x, starts)
        return sums
    _, exponent = np.frexp(np.maximum.reduceat(np.abs(x), starts))  # max |x| < 2**exponent
    # n values of at most 2**(53 - bits) grid steps each add up to at most 2**52 steps.
    bits = np.ceil(np.log2(sizes)).astype(np.int64) + 1
    step = np.repeat(np.ldexp(1.0, np.maximum(exponent - 53 + bits, -1074)), sizes)
    coarse = np.rint(x / step) * step
    sums = np.add.reduceat(coarse, starts) + np.add.reduceat(x - coarse, starts)
    return sums


def _wall(values: pd.Series, *, largest: bool) -> float | None:
    """Strike of the largest call GEX (``largest``) or most negative put GEX."""
    if values.empty:
        return None
    arr = values.to_numpy(dtype=np.float64)
    i = int(np.argmax(arr) if largest else np.argmin(arr))
    if arr[i] == 0:
        return None
    return float(values.index[i])


def average_dollar_volume(close: pd.Series, volume: pd.Series, days: int = 20) -> float | None:
    """Mean of close * volume over the last ``days`` rows with both known; USD per day."""
    dollars = (close * volume).dropna().tail(days)
    return float(dollars.mean()) if len(dollars) else None
