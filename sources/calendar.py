"""NYSE trading days, from exchange_calendars (XNYS), cached per process."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import warnings

import numpy as np
import numpy.typing as npt
import pandas as pd

log = logging.getLogger(__name__)

_FIRST = "1990-01-02"


@functools.cache
def _sessions() -> pd.DatetimeIndex:
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars trips a pandas deprecation warning of its own internals.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        cal = xcals.get_calendar("XNYS", start=_FIRST)
    return pd.DatetimeIndex(cal.sessions).tz_localize(None).normalize()


@functools.cache
def _closes() -> pd.Series:
    """Each session's closing time (UTC), early closes included, indexed by session."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        cal = xcals.get_calendar("XNYS", start=_FIRST)
    closes = cal.closes
    return pd.Series(closes.to_numpy(), index=_sessions(), name="close")


def last_completed_session(now: dt.datetime) -> dt.date:
    """The latest NYSE session whose close (16:00 New York, earlier on half days) is at
    or before ``now`` (tz-aware; a naive time is read as UTC)."""
    stamp = pd.Timestamp(now)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    closes = _closes()
    i = int(closes.searchsorted(stamp, side="right")) - 1
    day: dt.date = pd.Timestamp(closes.index[max(i, 0)]).date()
    return day


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """NYSE sessions from ``start`` to ``end`` inclusive."""
    s = _sessions()
    mask = (s >= pd.Timestamp(start)) & (s <= pd.Timestamp(end))
    return [d.date() for d in s[mask]]


def is_trading_day(day: dt.date) -> bool:
    return pd.Timestamp(day) in _sessions()


def sessions_mask(dates: pd.DatetimeIndex) -> npt.NDArray[np.bool_]:
    """True for each date that was an NYSE session; dates before the calendar's first
    year (1990) count as sessions (nothing to judge them by)."""
    known = np.asarray(dates >= _sessions()[0])
    return ~known | dates.isin(_sessions())


def last_trading_day(on_or_before: dt.date) -> dt.date:
    """The latest NYSE session on or before ``on_or_before``."""
    s = _sessions()
    i = int(s.searchsorted(pd.Timestamp(on_or_before), side="right")) - 1
    return s[max(i, 0)].date()


def trading_days_between(earlier: dt.date, later: dt.date) -> int:
    """Sessions strictly after ``earlier`` up to and including ``later`` (0 if not later)."""
    if later <= earlier:
        return 0
    s = _sessions()
    lo = int(s.searchsorted(pd.Timestamp(earlier), side="right"))
    hi = int(s.searchsorted(pd.Timestamp(later), side="right"))
    return hi - lo
