"""NYSE trading days, from exchange_calendars (XNYS), cached per process."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import warnings

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


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """NYSE sessions from ``start`` to ``end`` inclusive."""
    s = _sessions()
    mask = (s >= pd.Timestamp(start)) & (s <= pd.Timestamp(end))
    return [d.date() for d in s[mask]]


def is_trading_day(day: dt.date) -> bool:
    return pd.Timestamp(day) in _sessions()


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
