"""``update`` end to end against loopback servers standing in for every source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sources.calendar import trading_days
from sources.providers.chain import ChainProvider
from sources.providers.finra import FinraProvider
from sources.providers.http import HttpConfig
from sources.providers.prices import PriceProvider
from sources.providers.vix import VixProvider
from sources.store import Store
from sources.update import Providers, failure_phrase, session_text, snapshot_day, update
from tests.sources.conftest import LoopbackServer, Reply, serve

FIX = Path(__file__).parent / "fixtures"
FAST = HttpConfig(timeout=3.0, attempts=3, deadline=5.0, backoff_max=0.02, backoff_multiplier=0.01)
TODAY = dt.date(2026, 1, 30)
FINRA_PREFIX = "/equity/regsho/daily/"


def serve_world(loopback: LoopbackServer) -> None:
    """Every source in its real format (small fixtures)."""
    loopback.route("/chart/IWM", Reply(body=(FIX / "yahoo_chart_iwm.json").read_bytes()))
    loopback.route("/stooq", Reply(body=(FIX / "stooq_iwm_d.csv").read_bytes()))
    loopback.route(
        "/VIX_History.csv", Reply(body=(FIX / "cboe_vix_history_sample.csv").read_bytes())
    )
    loopback.route("/options/IWM.json", Reply(body=(FIX / "cboe_iwm_chain.json").read_bytes()))
    template = (FIX / "finra_cnms_sample_20260105.txt").read_text()
    loopback.route_prefix(
        FINRA_PREFIX,
        lambda path: Reply(body=template.replace("20260105", path[-12:-4])),
    )


def make_providers(loopback: LoopbackServer, cache: Path) -> Providers:
    return Providers(
        prices=PriceProvider(
            yahoo_url=loopback.url("/chart/{symbol}"), stooq_url=loopback.url("/stooq"), http=FAST
        ),
        vix=VixProvider(
            cboe_url=loopback.url("/VIX_History.csv"),
            yahoo_url=loopback.url("/chart/{symbol}"),
            http=FAST,
        ),
        dark_pool=FinraProvider(
            url_template=loopback.url(FINRA_PREFIX + "CNMSshvol{ymd}.txt"),
            cache_dir=cache,
            http=FAST,
        ),
        chain=ChainProvider(url=loopback.url("/options/{symbol}.json"), http=FAST),
    )


@pytest.fixture
def world(loopback: LoopbackServer, tmp_path: Path) -> tuple[Store, Providers, LoopbackServer]:
    serve_world(loopback)
    store = Store(tmp_path / "db.sqlite3")
    yield store, make_providers(loopback, tmp_path / "finra"), loopback
    store.close()


def test_first_update_fills_every_series(world) -> None:
    store, providers, _server = world
    ticks: list[tuple[str, int, int]] = []
    report = update(
        store, providers, TODAY, lambda s, d, n: ticks.append((s, d, n)), backfill_years=1
    )
    assert report.ok, report.failed
    by = {r.series: r for r in report.results}
    assert by["prices"].changed == 20 and by["prices"].source == "yahoo"
    assert by["prices"].last_date == TODAY and by["prices"].stale_days == 0
    assert by["vix"].changed == 21  # the holiday row is stored; the frame join drops it
    n_days = len(trading_days(TODAY - dt.timedelta(days=365), TODAY))
    assert by["dark_pool"].changed == n_days
    assert ticks[-1] == ("dark_pool", n_days, n_days)
    assert by["gex"].last_date == dt.date(2026, 1, 16)
    assert by["gex"].stale_days == 9  # the chain is old: reported, not hidden
    assert store.read("dark_pool")["ratio"].iloc[-1] == pytest.approx(2085904 / 1614499)


def test_second_update_changes_nothing_and_fetches_no_old_files(world) -> None:
    store, providers, server = world
    update(store, providers, TODAY, backfill_years=1)
    finra_before = server.count(FINRA_PREFIX)
    report = update(store, providers, TODAY, backfill_years=1)
    assert report.ok
    assert [r.changed for r in report.results] == [0, 0, 0, 0]
    assert server.count(FINRA_PREFIX) == finra_before


def test_one_failing_source_does_not_stop_the_others(world) -> None:
    store, providers, server = world
    server.route("/VIX_History.csv", Reply(status=500))
    server.route("/chart/^VIX", Reply(status=404))
    report = update(store, providers, TODAY, backfill_years=1)
    by = {r.series: r for r in report.results}
    assert not by["vix"].ok and "every source failed" in (by["vix"].error or "")
    assert by["prices"].ok and by["dark_pool"].ok and by["gex"].ok
    assert store.info("vix").rows == 0


def test_interrupted_backfill_resumes_without_downloading_again(world) -> None:
    store, providers, server = world
    served = {"n": 0}
    template = (FIX / "finra_cnms_sample_20260105.txt").read_text()

    def flaky(path: str) -> Reply:
        served["n"] += 1
        if served["n"] > 100:  # the network drops mid-backfill
            return Reply(status=503)
        return Reply(body=template.replace("20260105", path[-12:-4]))

    server.route_prefix(FINRA_PREFIX, flaky)
    report = update(store, providers, TODAY, backfill_years=1, series=("dark_pool",))
    assert not report.ok and "gave up" in (report.failed[0].error or "")
    kept = store.info("dark_pool").rows
    assert 0 < kept <= 100 and kept % 40 == 0  # whole chunks only

    serve_world(server)  # the network is back
    before = server.count(FINRA_PREFIX)
    report = update(store, providers, TODAY, backfill_years=1, series=("dark_pool",))
    assert report.ok
    n_days = len(trading_days(TODAY - dt.timedelta(days=365), TODAY))
    assert store.info("dark_pool").rows == n_days
    assert server.count(FINRA_PREFIX) - before == n_days - 100  # cached files not refetched


def test_prices_fallback_keeps_adjusted_history(world) -> None:
    store, providers, server = world
    update(store, providers, dt.date(2026, 1, 20), backfill_years=1, series=("prices",))
    server.route("/chart/IWM", Reply(status=403))
    report = update(store, providers, TODAY, backfill_years=1, series=("prices",))
    assert report.results[0].source == "stooq"
    bars = store.read("prices")
    assert (bars["adj_close"] < bars["close"]).all()
    assert report.results[0].note and "scaled" in report.results[0].note


def test_snapshot_day_follows_the_session_the_chain_shows() -> None:
    est = dt.timezone(dt.timedelta(hours=-4))
    assert snapshot_day(dt.datetime(2026, 7, 12, 6, 26, tzinfo=est)) == dt.date(2026, 7, 10)
    assert snapshot_day(dt.datetime(2026, 7, 13, 8, 0, tzinfo=est)) == dt.date(2026, 7, 10)
    assert snapshot_day(dt.datetime(2026, 7, 13, 16, 15, tzinfo=est)) == dt.date(2026, 7, 13)


# --- what the summary says ---------------------------------------------------------------
def test_summary_names_updated_unchanged_and_failed(world) -> None:
    store, providers, server = world
    first = update(store, providers, TODAY, backfill_years=1, series=("prices", "vix"))
    assert first.summary() == ["updated: prices (20 rows), vix (21 rows)"]
    server.route("/options/IWM.json", Reply(status=403))
    again = update(store, providers, TODAY, backfill_years=1, series=("prices", "vix", "gex"))
    lines = again.summary()
    assert lines[0] == "nothing was updated"
    assert lines[1] == "unchanged (no new data from the source): prices, vix"
    assert lines[2].startswith("failed: gex (") and "403" in lines[2]
    assert all("the others were updated" not in line for line in lines)


def test_offline_update_says_nothing_was_updated(tmp_path: Path) -> None:
    """Every source unreachable (a closed port): each fails, and nothing is claimed."""
    with serve() as gone:
        dead = make_providers(gone, tmp_path / "finra")
    # the server has stopped: every request is refused
    with Store(tmp_path / "db.sqlite3") as store:
        report = update(store, dead, TODAY, backfill_years=1)
    lines = report.summary()
    assert lines[0] == "nothing was updated"
    assert [line.split(" (")[0] for line in lines[1:]] == [
        "failed: prices",
        "failed: vix",
        "failed: dark_pool",
        "failed: gex",
    ]
    assert all(line.endswith("(the connection was refused)") for line in lines[1:])
    assert all(r.error and "refused" in r.error.lower() for r in report.failed)  # kept in full


@pytest.mark.parametrize(
    ("error", "phrase"),
    [
        (
            "IWM prices: every source failed: IWM prices from Yahoo: gave up after 3 attempts "
            "(network error: ConnectError: [Errno -2] Name or service not known)",
            "no network: the host name cannot be resolved",
        ),
        (
            "IWM option chain: HTTP 403 from https://cdn.example/x.json",
            "the source answered HTTP 403",
        ),
        (
            "not updated: the update's time limit had passed; run it again",
            "the update's time limit had passed",
        ),
        (
            "FINRA gave no usable file for any of the 3 new day(s) asked (a; b)",
            "FINRA gave no usable file for any of the 3 new day(s) asked",
        ),
    ],
)
def test_failure_phrases(error: str, phrase: str) -> None:
    assert failure_phrase(error) == phrase


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # 01:12 ET on Friday 2026-01-30: Thursday is the last completed session.
        (
            dt.datetime(2026, 1, 30, 6, 12),
            "last completed NYSE session 2026-01-29; today's session (2026-01-30) opens at "
            "09:30 ET",
        ),
        (
            dt.datetime(2026, 1, 30, 16, 0),
            "last completed NYSE session 2026-01-29; today's session (2026-01-30) is open "
            "(not complete)",
        ),
        (dt.datetime(2026, 1, 30, 21, 5), "last completed NYSE session 2026-01-30"),
        (dt.datetime(2026, 1, 31, 15, 0), "last completed NYSE session 2026-01-30"),  # Saturday
        # The day after Thanksgiving closes at 13:00 ET: complete by 14:00 ET.
        (dt.datetime(2026, 11, 27, 19, 0), "last completed NYSE session 2026-11-27"),
    ],
)
def test_session_named_from_the_calendar_and_the_time(utc: dt.datetime, expected: str) -> None:
    assert session_text(TODAY, utc.replace(tzinfo=dt.UTC)) == expected


def test_report_before_the_open_counts_staleness_from_the_completed_session(world) -> None:
    store, providers, _server = world
    before_open = dt.datetime(2026, 1, 30, 6, 12, tzinfo=dt.UTC)
    report = update(store, providers, TODAY, series=("prices",), now=before_open)
    assert report.last_session == dt.date(2026, 1, 29)
    assert "opens at 09:30 ET" in report.session
    prices = report.results[0]
    assert prices.last_date == dt.date(2026, 1, 29)  # today's bar is not complete
    assert prices.stale_days == 0
