"""NYSE trading days, from exchange_calendars (XNYS), cached per process and per day on disk."""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from platformdirs import user_cache_dir

log = logging.getLogger(__name__)

_FIRST = "1990-01-02"


#: Where the built calendar is kept between runs (default: the user cache directory).
CACHE_ENV = "IWM_CACHE_DIR"


def _cache_file() -> Path | None:
    """The cache file of today's calendar, named by the exchange_calendars version."""
    try:
        version = importlib.metadata.version("exchange_calendars")
    except importlib.metadata.PackageNotFoundError:
        return None
    root = os.environ.get(CACHE_ENV) or user_cache_dir("iwm-analyst", appauthor=False)
    return Path(root) / f"xnys-{version}-{_FIRST}-{dt.date.today().isoformat()}.npz"


def _build() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sessions (midnight) and closes (UTC) from exchange_calendars, as int64 nanoseconds."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars trips a pandas deprecation warning of its own internals.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        cal = xcals.get_calendar("XNYS", start=_FIRST)
    sessions = pd.DatetimeIndex(cal.sessions).tz_localize(None).normalize().as_unit("ns")
    closes = pd.DatetimeIndex(cal.closes).tz_convert("UTC").as_unit("ns")
    return sessions.asi8.copy(), closes.asi8.copy()


@functools.cache
def _load_or_build() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The calendar from today's cache file, or built (0.3 s) and cached for the day.

    Building XNYS from 1990 costs more than the rest of a cold ``forecast --csv``; the
    cache holds the same two int64 arrays, keyed by the library version and the day (the
    calendar reaches a year ahead of the day it was built). A cache that cannot be read
    or written is skipped: the calendar is built as before.
    """
    path = _cache_file()
    if path is not None and path.is_file():
        try:
            with np.load(path) as saved:
                sessions, closes = saved["sessions"], saved["closes"]
            if sessions.dtype == np.int64 and sessions.shape == closes.shape and sessions.size:
                return sessions, closes
            raise ValueError("unexpected arrays")
        except Exception as exc:  # empty (EOFError), truncated (BadZipFile), anything else
            log.debug("calendar cache %s unreadable (%r): rebuilding", path, exc)
            path.unlink(missing_ok=True)
    sessions, closes = _build()
    if path is not None:
        _write_cache(path, sessions, closes)
    return sessions, closes


def _write_cache(
    path: Path, sessions: npt.NDArray[np.int64], closes: npt.NDArray[np.int64]
) -> None:
    """Written whole or not at all: a temporary file, flushed to disk, then renamed."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("xnys-*.npz"):
            old.unlink(missing_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as fh:
            tmp = fh.name
            np.savez(fh, sessions=sessions, closes=closes)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        log.debug("calendar cache %s not written (%s)", path, exc)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


@functools.cache
def _sessions() -> pd.DatetimeIndex:
    return pd.DatetimeIndex(_load_or_build()[0].view("datetime64[ns]"))


@functools.cache
def _closes() -> pd.Series:
    """Each session's closing time (UTC), early closes included, indexed by session."""
    closes = pd.DatetimeIndex(_load_or_build()[1].view("datetime64[ns]")).tz_localize("UTC")
    return pd.Series(closes, index=_sessions(), name="close")


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
