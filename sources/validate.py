"""Validation at the door: the one place every input passes before the engine or the store.

``forecast --csv``, ``import`` and the providers all read through here, so a file is
judged the same way whichever command sees it. Two layers:

* :func:`sources.reading.read_text` reads a file with bounded cost: binary, compressed,
  UTF-16 and NUL content, overlong headers and lines are refused after a cheap look at
  the bytes, before any parser runs (re-exported here).
* :func:`check_series` judges the values of one series (a date-indexed frame with the
  file's data-row numbers): dates not after the latest completed NYSE session (auxiliary
  series: not after today, since CBOE prints VIX on exchange holidays), finite positive
  prices within :data:`PRICE_LIMITS` and the ticker's plausible range
  (:data:`PRICE_RANGES`), ``high >= max(open, close) >= min(open, close) >= low``
  (a slip within ``ohlc_tolerance`` is repaired and warned; more is refused), volume
  ``>= 0``, no day-to-day move beyond ``max_daily_move`` (a typo or an unadjusted split),
  missing values named with their dates, GEX units inferred.

Every refusal is one :class:`InputDataError` line naming the file, the data row(s) with
their dates and the problem; every repair or caveat is a typed :class:`DataWarning`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.errors import InputDataError
from engine.series import Series
from engine.state import DataWarning, WarningCode
from sources.calendar import last_completed_session, sessions_mask
from sources.reading import MAX_COLUMNS, read_text

__all__ = [
    "MAX_COLUMNS",
    "Checked",
    "Checks",
    "check_aux",
    "check_prices",
    "read_text",
    "scale_gex",
    "unadjusted_warning",
]

log = logging.getLogger(__name__)

#: Plausible price range (USD) per ticker, judged on a file's median close. IWM has
#: traded at about 34-300 USD as traded since 2000 (split-adjusted); dividend-adjusted
#: closes reach down to about 27 in March 2009. A file whose median sits outside is
#: another instrument (VIX at 10-80, the S&P 500 at 1,000-7,000, prices in cents, ...).
PRICE_RANGES: Final[dict[str, tuple[float, float]]] = {"IWM": (25.0, 450.0)}
#: Bounds every single price must meet, whatever the ticker (USD).
PRICE_LIMITS: Final = (0.01, 1_000_000.0)
#: The VIX's plausible median (points) and the most any single close may be.
VIX_MEDIAN_RANGE: Final = (8.0, 90.0)
VIX_MAX: Final = 200.0
#: Largest |GEX| accepted (USD per 1% move); SPX's is about 1e10 at its extremes.
GEX_MAX_ABS: Final = 1e13
#: A GEX column whose median |value| is below this is probably not in USD.
GEX_USD_MIN_MEDIAN: Final = 1e5
GEX_UNITS: Final[dict[str, float]] = {
    "usd": 1.0,
    "thousands": 1e3,
    "millions": 1e6,
    "billions": 1e9,
}
#: Oldest date accepted in any file.
EARLIEST: Final = dt.date(1900, 1, 1)
#: Weekend rows a price file may have (dropped with a warning) before its dates are
#: judged shifted and the file refused; exchange-holiday rows are always dropped and warned.
WEEKEND_ROWS_MAX: Final = 2

_PRICE_COLS: Final = ("close", "open", "high", "low", "adj_close")


@dataclass(frozen=True)
class Checks:
    """What the door knows about the world: the clock's dates and the ticker's bounds.

    ``latest_session`` is the latest completed NYSE session and ``today`` the calendar
    date in New York, both from the entry point's clock (the engine reads none); None
    skips the date-vs-clock checks.
    """

    latest_session: dt.date | None = None
    today: dt.date | None = None
    ticker: str = "IWM"
    price_range: tuple[float, float] | None = None
    ohlc_tolerance: float = 0.005
    max_daily_move: float = 0.5
    gex_unit: str | None = None  # declared unit of GEX files (a key of GEX_UNITS)

    @classmethod
    def at(cls, now: dt.datetime, ticker: str = "IWM", **kw: object) -> Checks:
        """Checks for a clock reading ``now`` (tz-aware)."""
        from zoneinfo import ZoneInfo

        today = now.astimezone(ZoneInfo("America/New_York")).date()
        return cls(
            latest_session=last_completed_session(now),
            today=today,
            ticker=ticker,
            **kw,  # type: ignore[arg-type]
        )

    @property
    def plausible(self) -> tuple[float, float] | None:
        return self.price_range or PRICE_RANGES.get(self.ticker.upper())


@dataclass
class Checked:
    """A validated series: the frame (sorted, one row per date) and what to tell."""

    frame: pd.DataFrame
    warnings: list[DataWarning] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for import's summary


# --- value checks ---------------------------------------------------------------------
def _where(
    name: str, rows: npt.NDArray[np.int64], dates: pd.DatetimeIndex, mask: npt.NDArray[np.bool_]
) -> str:
    """'data row 50 (2026-06-09)' or 'data rows 3 (..), 9 (..) and 4 more'."""
    idx = np.flatnonzero(mask)
    shown = [f"{rows[i]} ({dates[i].date()})" for i in idx[:3]]
    more = f" and {len(idx) - 3} more" if len(idx) > 3 else ""
    noun = "data row" if len(idx) == 1 else "data rows"
    return f"{noun} {', '.join(shown)}{more}"


def _refuse(name: str, where: str, problem: str) -> InputDataError:
    return InputDataError(f"{name}: {where}: {problem}")


def _fmt(x: float) -> str:
    return f"{x:,.2f}" if np.isfinite(x) and abs(x) < 1e7 else f"{x:g}"


def check_missing(
    frame: pd.DataFrame,
    rows: npt.NDArray[np.int64],
    name: str,
    columns: Sequence[str],
    *,
    what: str,
) -> None:
    """Refuse empty cells in ``columns`` naming their dates and rows."""
    dates = pd.DatetimeIndex(frame.index)
    for col in columns:
        if col not in frame:
            continue
        miss = frame[col].isna().to_numpy()
        if miss.any():
            raise _refuse(
                name,
                _where(name, rows, dates, miss),
                f"{col} is missing; {what} needs a value on every day (fill or remove those rows)",
            )


def _check_finite(
    frame: pd.DataFrame, rows: npt.NDArray[np.int64], name: str, columns: Sequence[str]
) -> None:
    dates = pd.DatetimeIndex(frame.index)
    for col in columns:
        if col not in frame:
            continue
        values = frame[col].to_numpy(dtype="float64")
        bad = np.isinf(values)
        if bad.any():
            i = int(np.argmax(bad))
            raise _refuse(
                name, _where(name, rows, dates, bad), f"{col} is {values[i]:g}, not a number"
            )


def check_dates(
    frame: pd.DataFrame,
    rows: npt.NDArray[np.int64],
    name: str,
    checks: Checks,
    kind: Series,
) -> None:
    """No date before 1900 nor after the clock's limit for ``kind``."""
    dates = pd.DatetimeIndex(frame.index)
    old = np.asarray(dates < pd.Timestamp(EARLIEST))
    if old.any():
        raise _refuse(name, _where(name, rows, dates, old), "implausible date (before 1900)")
    limit = checks.latest_session if kind == "prices" else checks.today
    if limit is None:
        return
    future = np.asarray(dates > pd.Timestamp(limit))
    if future.any():
        what = (
            f"the latest completed NYSE session ({limit})"
            if kind == "prices"
            else f"today ({limit}, New York)"
        )
        raise _refuse(
            name,
            _where(name, rows, dates, future),
            f"dated after {what}; a file cannot hold the future (check the dates)",
        )


def _drop_non_sessions(
    frame: pd.DataFrame, rows: npt.NDArray[np.int64], name: str
) -> tuple[pd.DataFrame, npt.NDArray[np.int64], list[DataWarning]]:
    dates = pd.DatetimeIndex(frame.index)
    closed = ~sessions_mask(dates)
    if not closed.any():
        return frame, rows, []
    weekend = np.asarray(dates.day_of_week >= 5)
    n = int(weekend.sum())
    if n > max(WEEKEND_ROWS_MAX, len(dates) // 100):
        raise _refuse(
            name,
            _where(name, rows, dates, weekend),
            f"{n} of {len(dates)} rows fall on a Saturday or Sunday; the dates look shifted "
            "(a time-zone conversion?), so the file is refused",
        )
    days = tuple(d.date() for d in dates[closed])
    shown = ", ".join(str(d) for d in days[:5]) + (
        f" and {len(days) - 5} more" if len(days) > 5 else ""
    )
    text = (
        f"prices: {name} has {len(days)} row(s) on days the NYSE was closed ({shown}); "
        "they were left out"
    )
    warning = DataWarning(code=WarningCode.NOT_A_SESSION, series="prices", dates=days, text=text)
    return frame[~closed], rows[~closed], [warning]


def _looks_like(median: float, has_volume: bool) -> str:
    if VIX_MEDIAN_RANGE[0] <= median <= VIX_MEDIAN_RANGE[1] and not has_volume:
        return "this looks like the VIX (index points), not prices"
    if 500 <= median <= 12_000:
        return "this looks like an index level (S&P 500, Russell 2000), not the ETF"
    if median > 12_000:
        return "this looks like prices in cents, or another instrument"
    return "this looks like another instrument"


def check_prices(
    frame: pd.DataFrame, rows: npt.NDArray[np.int64], name: str, checks: Checks
) -> Checked:
    """Validate a prices frame (open/high/low/close[/adj_close][/volume])."""
    dates = pd.DatetimeIndex(frame.index)
    check_missing(frame, rows, name, _PRICE_COLS, what="a price file")
    _check_finite(frame, rows, name, (*_PRICE_COLS, "volume"))
    lo, hi = PRICE_LIMITS
    for col in _PRICE_COLS:
        if col not in frame:
            continue
        values = frame[col].to_numpy(dtype="float64")
        bad = ~((values >= lo) & (values <= hi))
        if bad.any():
            i = int(np.argmax(bad))
            raise _refuse(
                name,
                _where(name, rows, dates, bad),
                f"{col} {_fmt(values[i])} is not a price (must be {lo:g} to {hi:,.0f} USD)",
            )
    if "volume" in frame:
        vol = frame["volume"].to_numpy(dtype="float64")
        bad = vol < 0
        if bad.any():
            i = int(np.argmax(bad))
            raise _refuse(name, _where(name, rows, dates, bad), f"volume {vol[i]:,.0f} is negative")
    check_dates(frame, rows, name, checks, "prices")
    frame, rows, warnings = _drop_non_sessions(frame, rows, name)
    order = np.argsort(frame.index.to_numpy(), kind="stable")
    frame, rows = frame.iloc[order].copy(), rows[order]
    dates = pd.DatetimeIndex(frame.index)
    close = frame["close"].to_numpy(dtype="float64")
    plausible = checks.plausible
    if plausible is not None and len(close):
        median = float(np.median(close))
        if not plausible[0] <= median <= plausible[1]:
            has_volume = "volume" in frame and bool((frame["volume"].fillna(0) > 0).any())
            raise InputDataError(
                f"{name}: closes run from {_fmt(close.min())} to {_fmt(close.max())} (median "
                f"{_fmt(median)}), far outside {checks.ticker}'s plausible range "
                f"{plausible[0]:g} to {plausible[1]:g} USD; {_looks_like(median, has_volume)}"
            )
    if "volume" in frame and len(frame) > 5 and bool((frame["volume"] == 0).all()):
        raise InputDataError(
            f"{name}: volume is 0 on every row, as in an index file (VIX, S&P 500); "
            f"give {checks.ticker}'s own prices"
        )
    warnings += _check_ohlc(frame, rows, name, checks)
    if len(close) > 1:
        move = np.abs(close[1:] / close[:-1] - 1.0)
        big = np.concatenate([[False], move > checks.max_daily_move])
        if big.any():
            i = int(np.argmax(big))
            raise _refuse(
                name,
                _where(name, rows, dates, big),
                f"close {_fmt(close[i])} after {_fmt(close[i - 1])} the session before is a "
                f"{abs(close[i] / close[i - 1] - 1):.0%} move; a typo, or a split that is "
                "not adjusted?",
            )
    return Checked(frame=frame, warnings=warnings)


def _check_ohlc(
    frame: pd.DataFrame, rows: npt.NDArray[np.int64], name: str, checks: Checks
) -> list[DataWarning]:
    """high >= max(open, close) >= min(open, close) >= low; small slips repaired."""
    dates = pd.DatetimeIndex(frame.index)
    o, h = frame["open"].to_numpy(dtype="float64"), frame["high"].to_numpy(dtype="float64")
    lo, c = frame["low"].to_numpy(dtype="float64"), frame["close"].to_numpy(dtype="float64")
    crossed = h < lo
    if crossed.any():
        i = int(np.argmax(crossed))
        raise _refuse(
            name,
            _where(name, rows, dates, crossed),
            f"high {_fmt(h[i])} is below low {_fmt(lo[i])}",
        )
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    tol = checks.ohlc_tolerance * c
    over = (top - h) > tol
    under = (lo - bottom) > tol
    bad = over | under
    if bad.any():
        i = int(np.argmax(bad))
        problem = (
            f"high {_fmt(h[i])} is below open/close {_fmt(top[i])}"
            if over[i]
            else f"low {_fmt(lo[i])} is above open/close {_fmt(bottom[i])}"
        )
        raise _refuse(
            name,
            _where(name, rows, dates, bad),
            f"{problem} by more than {checks.ohlc_tolerance:.1%}",
        )
    repair = (h < top) | (lo > bottom)
    if not repair.any():
        return []
    frame["high"] = np.maximum(h, top)
    frame["low"] = np.minimum(lo, bottom)
    days = tuple(d.date() for d in dates[repair])
    more = f" and {len(days) - 5} more" if len(days) > 5 else ""
    shown = ", ".join(str(d) for d in days[:5]) + more
    text = (
        f"prices: {name}: high/low repaired on {len(days)} day(s) where they sat within "
        f"{checks.ohlc_tolerance:.1%} inside open or close ({shown})"
    )
    return [DataWarning(code=WarningCode.REPAIRED, series="prices", dates=days, text=text)]


def unadjusted_warning(source: str) -> DataWarning:
    """The note for prices without dividend-adjusted closes."""
    return DataWarning(
        code=WarningCode.UNADJUSTED,
        series="prices",
        text=f"prices: {source} has no adjusted close, so returns are computed from "
        "as-traded closes and exclude dividends (about 1-2% a year for IWM)",
    )


def check_aux(
    frame: pd.DataFrame, rows: npt.NDArray[np.int64], name: str, checks: Checks, kind: Series
) -> Checked:
    """Validate a VIX, GEX or dark-pool frame; empty cells become gaps named in a note."""
    col = {"vix": "vix", "gex": "gex", "dark_pool": "dark_pool"}[kind]
    value_cols = [c for c in (col, "short_volume", "total_volume") if c in frame]
    _check_finite(frame, rows, name, value_cols)
    check_dates(frame, rows, name, checks, kind)
    dates = pd.DatetimeIndex(frame.index)
    values = frame[col].to_numpy(dtype="float64")
    present = ~np.isnan(values)
    if kind == "vix":
        bad = present & ~((values > 0) & (values <= VIX_MAX))
        if bad.any():
            i = int(np.argmax(bad))
            raise _refuse(
                name,
                _where(name, rows, dates, bad),
                f"VIX {_fmt(values[i])} is not a VIX level (above 0, at most {VIX_MAX:g} points)",
            )
        if present.any():
            median = float(np.median(values[present]))
            if not VIX_MEDIAN_RANGE[0] <= median <= VIX_MEDIAN_RANGE[1]:
                raise InputDataError(
                    f"{name}: values have a median of {_fmt(median)}, far from the VIX's "
                    f"usual {VIX_MEDIAN_RANGE[0]:g} to {VIX_MEDIAN_RANGE[1]:g} points; "
                    "this does not look like the VIX (prices given as VIX?)"
                )
    elif kind == "gex":
        bad = present & (np.abs(values) > GEX_MAX_ABS)
        if bad.any():
            i = int(np.argmax(bad))
            raise _refuse(
                name,
                _where(name, rows, dates, bad),
                f"GEX {values[i]:g} is beyond any market's gamma (|GEX| <= {GEX_MAX_ABS:g} USD)",
            )
    else:
        _check_dark_pool(frame, rows, name)
        values = frame["dark_pool"].to_numpy(dtype="float64")
        present = ~np.isnan(values)
    out = Checked(frame=frame)
    if (~present).any():
        days = [d.date() for d in dates[~present]]
        shown = ", ".join(str(d) for d in days[:5]) + (
            f" and {len(days) - 5} more" if len(days) > 5 else ""
        )
        out.notes.append(f"no {kind} value on {len(days)} day(s) ({shown}): left as gaps")
        frame = frame[present]
        rows = rows[present]
    order = np.argsort(frame.index.to_numpy(), kind="stable")
    out.frame = frame.iloc[order].copy()
    if kind == "gex":
        out.frame["gex"], unit_warning = scale_gex(out.frame["gex"], name, checks.gex_unit)
        if unit_warning is not None:
            out.warnings.append(unit_warning)
    return out


def _check_dark_pool(frame: pd.DataFrame, rows: npt.NDArray[np.int64], name: str) -> None:
    dates = pd.DatetimeIndex(frame.index)
    for col in ("short_volume", "total_volume", "dark_pool"):
        if col not in frame:
            continue
        values = frame[col].to_numpy(dtype="float64")
        bad = values < 0
        if bad.any():
            raise _refuse(name, _where(name, rows, dates, bad), f"{col} is negative")
    if {"short_volume", "total_volume"} <= set(frame.columns):
        short = frame["short_volume"].to_numpy(dtype="float64")
        total = frame["total_volume"].to_numpy(dtype="float64")
        bad = short > total
        if bad.any():
            i = int(np.argmax(bad))
            raise _refuse(
                name,
                _where(name, rows, dates, bad),
                f"ShortVolume {short[i]:,.0f} exceeds TotalVolume {total[i]:,.0f}",
            )


def scale_gex(
    values: pd.Series, source: str, unit: str | None
) -> tuple[pd.Series, DataWarning | None]:
    """GEX in USD per 1% move: scaled by a declared ``unit``, else checked for one.

    Without a declared unit the values are kept as given; a median |value| below
    :data:`GEX_USD_MIN_MEDIAN` (an IWM or SPX net GEX is 1e8-1e10 USD) gives a warning
    naming the likely unit and the option that scales it.
    """
    if unit is not None:
        return values * GEX_UNITS[unit], None
    nonzero = values[values != 0].abs()
    if nonzero.empty:
        return values, None
    median = float(nonzero.median())
    if median >= GEX_USD_MIN_MEDIAN:
        return values, None
    # IWM's or SPX's net GEX is 1e8-1e10 USD: about 100-10,000 in millions, 0.1-10 in
    # billions; 50 splits the two.
    likely = "millions" if median >= 50 else "billions"
    warning = DataWarning(
        code=WarningCode.UNITS,
        series="gex",
        text=f"gex: the values in {source} look like {likely} of USD, not USD (median "
        f"|value| {median:,.4g}; a net GEX is usually 1e8 to 1e10 USD per 1% move). They "
        f"are used as given: the sign still decides the rules, but amounts read small. "
        f"Declare the unit with --gex-unit {likely} to scale them.",
    )
    return values, warning


def screen_rows(
    frame: pd.DataFrame, kind: Series, *, limit: dt.date | None, tolerance: float = 0.005
) -> tuple[pd.DataFrame, str | None]:
    """A provider's rows with the impossible ones left out, and a note naming them.

    A file is refused whole; a provider's reply is screened row by row instead, so one
    bad bar never stops an update: rows dated after ``limit`` (the latest completed NYSE
    session for prices: a bar of a session still trading is not a close; today for VIX),
    missing, non-finite or non-positive prices, ``high < low``, open or close beyond
    high/low by more than ``tolerance`` and negative volume are left out; smaller OHLC
    slips are repaired. Works on the store's columns (``close`` is the VIX level).
    """
    out = frame.copy()
    dates = pd.DatetimeIndex(out.index)
    reasons = pd.Series("", index=out.index, dtype=object)

    def flag(mask: npt.NDArray[np.bool_], why: str) -> None:
        fresh = mask & (reasons == "").to_numpy()
        reasons[fresh] = why

    if limit is not None:
        flag(np.asarray(dates > pd.Timestamp(limit)), f"after {limit}")
    cols = [c for c in ("close", "open", "high", "low", "adj_close") if c in out]
    for col in cols:
        values = out[col].to_numpy(dtype="float64")
        top = VIX_MAX if kind == "vix" else PRICE_LIMITS[1]
        flag(~(np.isfinite(values) & (values > 0) & (values <= top)), f"{col} not a price")
    if kind == "prices" and {"open", "high", "low"} <= set(cols):
        o, c = out["open"].to_numpy(dtype="float64"), out["close"].to_numpy(dtype="float64")
        h, lo = out["high"].to_numpy(dtype="float64"), out["low"].to_numpy(dtype="float64")
        flag(h < lo, "high below low")
        top_oc, bottom_oc = np.maximum(o, c), np.minimum(o, c)
        flag(
            ((top_oc - h) > tolerance * c) | ((lo - bottom_oc) > tolerance * c),
            "open/close outside high/low",
        )
        out["high"], out["low"] = np.fmax(h, top_oc), np.fmin(lo, bottom_oc)
    if "volume" in out:
        flag(np.asarray(out["volume"].to_numpy(dtype="float64") < 0), "negative volume")
    bad = (reasons != "").to_numpy()
    if not bad.any():
        return out, None
    listed = [f"{d.date()} ({r})" for d, r in zip(dates[bad], reasons[bad], strict=True)]
    more = f" and {len(listed) - 5} more" if len(listed) > 5 else ""
    note = f"left out {len(listed)} row(s) that fail validation: {', '.join(listed[:5])}{more}"
    return out[~bad], note
