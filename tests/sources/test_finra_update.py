"""FINRA through ``update`` against a loopback server: bad rows, HTML days, two runs at once."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pandas as pd
import pytest

from sources.calendar import trading_days
from sources.providers.finra import FinraProvider
from sources.store import Store
from sources.update import Providers, update
from tests.sources.conftest import LoopbackServer, Reply
from tests.sources.test_update import FAST, FINRA_PREFIX, FIX, TODAY, make_providers, serve_world

TEMPLATE = (FIX / "finra_cnms_sample_20260105.txt").read_text()
HTML = (FIX / "finra_error.html").read_bytes()
BAD_DAY, HTML_DAY = dt.date(2026, 1, 13), dt.date(2026, 1, 21)
FIRST = dt.date(2026, 1, 2)


def _ymd(path: str) -> str:
    return path.rsplit("CNMSshvol", 1)[1][:8]


def _good(path: str) -> Reply:
    return Reply(body=TEMPLATE.replace("20260105", _ymd(path)))


def _bad_row(path: str) -> Reply:
    """The IWM row with ShortVolume above TotalVolume (other symbols fine)."""
    text = TEMPLATE.replace("20260105", _ymd(path))
    lines = text.splitlines()
    lines = [
        "|".join([*ln.split("|")[:2], "9000000", "0", "3000000", *ln.split("|")[5:]])
        if "|IWM|" in ln
        else ln
        for ln in lines
    ]
    return Reply(body="\r\n".join(lines))


@pytest.fixture
def world(loopback: LoopbackServer, tmp_path: Path):
    serve_world(loopback)
    store = Store(tmp_path / "db.sqlite3")
    # a store whose dark-pool history starts this year, so each update asks few days
    start = pd.DataFrame({"ratio": [1.0]}, index=pd.DatetimeIndex([FIRST], name="date"))
    store.upsert("dark_pool", start, source="test")
    yield store, make_providers(loopback, tmp_path / "finra"), loopback
    store.close()


def _dark_pool(store: Store, providers: Providers, today: dt.date = TODAY):
    report = update(store, providers, today, series=("dark_pool",))
    return report.results[0]


def test_a_bad_row_skips_its_day_and_is_asked_again(world) -> None:
    store, providers, server = world
    server.route_prefix(
        FINRA_PREFIX, lambda p: _bad_row(p) if _ymd(p) == f"{BAD_DAY:%Y%m%d}" else _good(p)
    )
    first = _dark_pool(store, providers)
    assert first.ok, first.error
    assert first.note and f"{BAD_DAY} (bad row)" in first.note
    stored = set(store.read("dark_pool").index.date)
    assert BAD_DAY not in stored and TODAY in stored
    assert store.missing_days("dark_pool") == {BAD_DAY: "bad row"}
    # FINRA corrects the file: the next run asks for it again and fills the gap
    server.route_prefix(FINRA_PREFIX, _good)
    second = _dark_pool(store, providers)
    assert second.ok and second.note is None
    assert BAD_DAY in set(store.read("dark_pool").index.date)
    assert store.missing_days("dark_pool") == {}


def test_an_html_day_is_retried_until_the_file_exists(world) -> None:
    store, providers, server = world
    html = {"on": True}

    def serve(path: str) -> Reply:
        if _ymd(path) == f"{HTML_DAY:%Y%m%d}" and html["on"]:
            return Reply(body=HTML, content_type="text/html")  # HTTP 200, an error page
        return _good(path)

    server.route_prefix(FINRA_PREFIX, serve)
    first = _dark_pool(store, providers)
    assert first.ok and first.note and f"{HTML_DAY} (HTML page)" in first.note
    # the next run, still HTML: still reported, still missing
    again = _dark_pool(store, providers)
    assert again.note and str(HTML_DAY) in again.note
    assert server.count(f"{FINRA_PREFIX}CNMSshvol{HTML_DAY:%Y%m%d}") == 2
    html["on"] = False
    filled = _dark_pool(store, providers)
    assert filled.ok and filled.note is None
    assert HTML_DAY in set(store.read("dark_pool").index.date)
    assert store.missing_days("dark_pool") == {}
    n = len(trading_days(FIRST, TODAY))
    assert store.info("dark_pool").rows == n


def test_every_day_html_is_a_failure_not_empty(world) -> None:
    store, providers, server = world
    server.route_prefix(FINRA_PREFIX, lambda p: Reply(body=HTML, content_type="text/html"))
    result = _dark_pool(store, providers)
    assert not result.ok
    assert "no usable file" in (result.error or "") and "HTML page" in (result.error or "")
    assert len(store.missing_days("dark_pool")) == len(trading_days(FIRST, TODAY)) - 1


def test_two_updates_at_once_are_serialised(world, tmp_path: Path) -> None:
    store, providers, server = world
    server.route_prefix(FINRA_PREFIX, lambda p: Reply(body=_good(p).body, delay=0.01))
    results: dict[str, object] = {}

    def run(name: str) -> None:
        with Store(tmp_path / "db.sqlite3") as own:
            try:
                results[name] = update(own, providers, TODAY, series=("dark_pool",))
            except Exception as exc:  # the test fails below with the exception shown
                results[name] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for name, report in results.items():
        assert not isinstance(report, Exception), (name, report)
        assert report.ok, (name, report.failed)  # type: ignore[union-attr]
    n = len(trading_days(FIRST, TODAY))
    assert store.info("dark_pool").rows == n
    # each day was downloaded once: the second run found the first's files and rows
    assert server.count(FINRA_PREFIX) == n - 1
    assert not list((tmp_path / "finra").glob("*.part"))


def test_a_busy_lock_is_reported_on_every_series(world, tmp_path: Path) -> None:
    from sources.lock import update_lock

    store, providers, _server = world
    with update_lock(tmp_path / "db.sqlite3"):
        report = update(store, providers, TODAY, series=("prices", "dark_pool"), lock_wait=0.2)
    assert [r.ok for r in report.results] == [False, False]
    assert "another 'iwm-analyst update' is running" in (report.results[0].error or "")


def test_cache_writes_from_two_providers_at_once_never_collide(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    """Without the lock (two stores, one cache): unique temporary names, no lost files."""
    loopback.route_prefix(FINRA_PREFIX, lambda p: Reply(body=_good(p).body, delay=0.005))
    provider = FinraProvider(
        url_template=loopback.url(FINRA_PREFIX + "CNMSshvol{ymd}.txt"),
        cache_dir=tmp_path / "cache",
        http=FAST,
    )
    days = trading_days(dt.date(2026, 1, 2), dt.date(2026, 1, 30))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            res = provider.fetch_days(days)
            assert not res.missing
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(list((tmp_path / "cache").glob("CNMSshvol*.txt"))) == len(days)
    assert not list((tmp_path / "cache").glob("*.part"))


def test_a_bar_of_the_session_still_trading_is_not_stored(world) -> None:
    store, providers, _server = world
    morning = dt.datetime(2026, 1, 30, 15, 0, tzinfo=dt.UTC)  # 10:00 New York
    report = update(store, providers, TODAY, series=("prices",), now=morning)
    result = report.results[0]
    assert result.ok and result.last_date == dt.date(2026, 1, 29)
    assert result.note and "2026-01-30 (after 2026-01-29)" in result.note
