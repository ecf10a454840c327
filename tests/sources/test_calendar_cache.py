"""The NYSE calendar cache: built once a day, read back identical, never required."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sources import calendar


def _clear() -> None:
    for fn in (calendar._load_or_build, calendar._sessions, calendar._closes):
        fn.cache_clear()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(calendar.CACHE_ENV, str(tmp_path / "cache"))
    _clear()
    yield tmp_path / "cache"
    _clear()


def _from_library() -> tuple[pd.DatetimeIndex, pd.Series]:
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar("XNYS", start=calendar._FIRST)
    sessions = pd.DatetimeIndex(cal.sessions).tz_localize(None).normalize()
    return sessions, pd.Series(cal.closes.to_numpy(), index=sessions, name="close")


def test_cached_calendar_is_the_library_calendar(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want_sessions, want_closes = _from_library()
    built = (calendar._sessions(), calendar._closes())
    files = list(cache_dir.glob("xnys-*.npz"))
    assert len(files) == 1
    _clear()
    # Read back without the library: importing it would now fail.
    monkeypatch.setitem(sys.modules, "exchange_calendars", None)
    for sessions, closes in (built, (calendar._sessions(), calendar._closes())):
        pd.testing.assert_index_equal(sessions, want_sessions, exact=True)
        pd.testing.assert_series_equal(closes, want_closes, check_exact=True)
    assert calendar.last_trading_day(pd.Timestamp("2024-07-04").date()).isoformat() == (
        "2024-07-03"
    )


def test_unreadable_or_unwritable_cache_falls_back_to_the_library(cache_dir: Path) -> None:
    path = calendar._cache_file()
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a numpy file")
    want_sessions, _ = _from_library()
    pd.testing.assert_index_equal(calendar._sessions(), want_sessions, exact=True)
    assert path.stat().st_size > 1000  # rebuilt and rewritten
    _clear()
    blocker = cache_dir.parent / "a-file"
    blocker.write_text("x")
    os.environ[calendar.CACHE_ENV] = str(blocker / "cache")  # cannot be created
    pd.testing.assert_index_equal(calendar._sessions(), want_sessions, exact=True)
    assert not (blocker / "cache").exists()


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_damaged_cache_is_removed_and_rebuilt(cache_dir: Path, damage: str) -> None:
    calendar._sessions()  # writes today's cache
    path = calendar._cache_file()
    assert path is not None and path.is_file()
    good = path.read_bytes()
    path.write_bytes(b"" if damage == "empty" else good[: len(good) // 2])
    _clear()
    want, _ = _from_library()
    pd.testing.assert_index_equal(calendar._sessions(), want, exact=True)
    assert path.read_bytes() == good  # rebuilt whole, in place of the bad file
    assert not list(cache_dir.glob("*.tmp"))


def test_a_failed_write_leaves_no_temporary_file(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(calendar.os, "fsync", no_space)
    want, _ = _from_library()
    pd.testing.assert_index_equal(calendar._sessions(), want, exact=True)
    assert list(cache_dir.iterdir()) == []
