"""Providers against loopback HTTP servers: real formats, and the faults that happen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.errors import ProviderError
from sources.providers.chain import ChainProvider, decode, parse_occ, read_chain_file
from sources.providers.finra import FinraProvider, parse_short_volume
from sources.providers.http import HttpConfig, SourceUnavailable, fetch
from sources.providers.prices import PriceProvider
from sources.providers.vix import VixProvider, parse_cboe_vix
from tests.sources.conftest import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures"
FAST = HttpConfig(timeout=3.0, attempts=3, deadline=5.0, backoff_max=0.05, backoff_multiplier=0.01)
JAN = (dt.date(2026, 1, 1), dt.date(2026, 1, 31))


def _fix(name: str) -> bytes:
    return (FIX / name).read_bytes()


# --- the shared fetch helper ----------------------------------------------------------
def test_retries_on_500_then_succeeds(loopback: LoopbackServer) -> None:
    loopback.route("/x", [Reply(status=500), Reply(status=503), Reply(body="fine")])
    assert fetch(loopback.url("/x"), what="x", config=FAST).text == "fine"
    assert loopback.count("/x") == 3


def test_gives_up_after_three_attempts(loopback: LoopbackServer) -> None:
    loopback.route("/x", Reply(status=500))
    with pytest.raises(SourceUnavailable, match="gave up after 3 attempts"):
        fetch(loopback.url("/x"), what="x", config=FAST)
    assert loopback.count("/x") == 3


def test_403_is_not_retried(loopback: LoopbackServer) -> None:
    loopback.route("/x", Reply(status=403, body="Forbidden"))
    with pytest.raises(ProviderError, match="refused the request \\(HTTP 403"):
        fetch(loopback.url("/x"), what="x", config=FAST)
    assert loopback.count("/x") == 1


def test_timeout_is_retried_then_reported(loopback: LoopbackServer) -> None:
    loopback.route("/slow", Reply(body="late", delay=1.0))
    cfg = HttpConfig(timeout=0.2, attempts=2, deadline=5.0, backoff_max=0.01)
    with pytest.raises(SourceUnavailable, match="timed out"):
        fetch(loopback.url("/slow"), what="slow", config=cfg)
    assert loopback.count("/slow") == 2


def test_truncated_body_is_retried(loopback: LoopbackServer) -> None:
    loopback.route("/t", [Reply(body="0123456789", truncate=True), Reply(body="0123456789")])
    assert fetch(loopback.url("/t"), what="t", config=FAST).text == "0123456789"
    assert loopback.count("/t") == 2


def test_unreachable_server_is_a_provider_error() -> None:
    cfg = HttpConfig(timeout=0.2, attempts=2, deadline=2.0, backoff_max=0.01)
    with pytest.raises(ProviderError, match="network error"):
        fetch("http://127.0.0.1:9/nothing", what="nothing", config=cfg)


# --- prices -----------------------------------------------------------------------------
def _prices(loopback: LoopbackServer) -> PriceProvider:
    return PriceProvider(
        yahoo_url=loopback.url("/v8/finance/chart/{symbol}"),
        stooq_url=loopback.url("/q/d/l/?s={symbol}&i=d"),
        http=FAST,
    )


def test_yahoo_prices_with_adjusted_close(loopback: LoopbackServer) -> None:
    loopback.route("/v8/finance/chart/IWM", Reply(body=_fix("yahoo_chart_iwm.json")))
    df, source = _prices(loopback).fetch(*JAN)
    assert source == "yahoo"
    assert len(df) == 20
    assert df.index[0] == dt.datetime(2026, 1, 2)  # 14:30 UTC -> exchange date
    assert dt.datetime(2026, 1, 19) not in df.index  # MLK day
    assert (df["adj_close"] < df["close"]).all()
    assert list(df.columns) == ["open", "high", "low", "close", "adj_close", "volume"]


def test_prices_fall_back_to_stooq_when_yahoo_refuses(loopback: LoopbackServer) -> None:
    loopback.route("/v8/finance/chart/IWM", Reply(status=403))
    loopback.route("/q/d/l/", Reply(body=_fix("stooq_iwm_d.csv")))
    df, source = _prices(loopback).fetch(dt.date(2026, 1, 10), dt.date(2026, 1, 31))
    assert source == "stooq"
    assert df.index[0] == dt.datetime(2026, 1, 12)
    assert (df["adj_close"] == df["close"]).all()


def test_prices_html_where_csv_expected(loopback: LoopbackServer) -> None:
    loopback.route("/v8/finance/chart/IWM", Reply(status=500))
    loopback.route("/q/d/l/", Reply(body=_fix("finra_error.html"), content_type="text/html"))
    with pytest.raises(ProviderError, match=r"every source failed.*HTML page"):
        _prices(loopback).fetch(*JAN)


# --- VIX --------------------------------------------------------------------------------
def test_cboe_vix_real_file(raw_data_dir: Path) -> None:
    text = (raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv").read_text()
    df = parse_cboe_vix(text)
    assert len(df) == 9223
    assert df.index[0] == dt.datetime(1990, 1, 2)
    assert dt.datetime(2024, 7, 4) in df.index  # CBOE prints on exchange holidays


def test_vix_from_cboe_and_fallback_to_yahoo(loopback: LoopbackServer) -> None:
    loopback.route("/VIX_History.csv", Reply(body=_fix("cboe_vix_history_sample.csv")))
    provider = VixProvider(
        cboe_url=loopback.url("/VIX_History.csv"),
        yahoo_url=loopback.url("/chart/{symbol}"),
        http=FAST,
    )
    df, source = provider.fetch(*JAN)
    assert source == "cboe" and len(df) == 21
    loopback.route("/VIX_History.csv", Reply(body="<html><body>Access denied</body></html>"))
    loopback.route("/chart/^VIX", Reply(body=_fix("yahoo_chart_iwm.json")))
    df, source = provider.fetch(*JAN)
    assert source == "yahoo" and len(df) == 20


# --- FINRA ------------------------------------------------------------------------------
def test_finra_parser_on_real_file(raw_data_dir: Path) -> None:
    text = (raw_data_dir / "pookiemaker_shorts" / "CNMSshvol20200102.txt").read_bytes().decode()
    row = parse_short_volume(text, "IWM", "real")
    assert row is not None
    assert (row.short_volume, row.total_volume) == (2085904, 3700403)
    assert row.ratio == pytest.approx(2085904 / (3700403 - 2085904))


def test_finra_parser_skips_trailer_and_refuses_html() -> None:
    text = _fix("finra_cnms_sample_20260105.txt").decode()
    assert text.endswith("3\r\n")
    row = parse_short_volume(text, "QQQ", "fixture")
    assert row is not None and row.ratio == pytest.approx(1.0)
    assert parse_short_volume(text, "NOPE", "fixture") is None
    with pytest.raises(ProviderError, match="HTML page"):
        parse_short_volume(_fix("finra_error.html").decode(), "IWM", "x")


def _finra_server(loopback: LoopbackServer, html_days: frozenset[str] = frozenset()) -> None:
    template = _fix("finra_cnms_sample_20260105.txt").decode()

    def serve(path: str) -> Reply:
        ymd = path.rsplit("CNMSshvol", 1)[1][:8]
        if ymd in html_days:
            return Reply(body=_fix("finra_error.html"), content_type="text/html")
        return Reply(body=template.replace("20260105", ymd))

    loopback.route_prefix("/equity/regsho/daily/", serve)


def test_finra_backfill_caches_and_reports_html_days(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    _finra_server(loopback, html_days=frozenset({"20260107"}))
    provider = FinraProvider(
        url_template=loopback.url("/equity/regsho/daily/CNMSshvol{ymd}.txt"),
        cache_dir=tmp_path / "finra",
        http=FAST,
    )
    days = [dt.date(2026, 1, d) for d in (5, 6, 7, 8)]
    seen: list[tuple[int, int]] = []
    res = provider.fetch_days(days, progress=lambda i, n: seen.append((i, n)))
    assert res.missing == [dt.date(2026, 1, 7)]
    assert len(res.frame) == 3 and res.downloaded == 3
    assert seen[-1] == (4, 4)
    assert not (tmp_path / "finra" / "CNMSshvol20260107.txt").exists()  # HTML never cached
    again = provider.fetch_days(days)
    assert again.from_cache == 3 and again.downloaded == 0
    assert loopback.count("/equity/regsho/daily/CNMSshvol20260107") == 2


# --- option chain -----------------------------------------------------------------------
def test_occ_symbol() -> None:
    assert parse_occ("IWM260713C00215000") == ("IWM", dt.date(2026, 7, 13), "call", 215.0)
    assert parse_occ("IWM260713P00095500")[2:] == ("put", 95.5)
    with pytest.raises(ValueError):
        parse_occ("IWM 2607")


def test_cboe_chain_layout() -> None:
    snap = decode(_fix("cboe_iwm_chain.json").decode(), "fixture")
    assert snap.spot == 250.0 and len(snap.contracts) == 30
    assert snap.as_of.isoformat() == "2026-01-16T16:15:03-05:00"
    assert snap.contracts["gamma"].isna().sum() == 1  # null gamma; 0 kept as 0
    assert set(snap.contracts["side"]) == {"call", "put"}


def test_chain_falls_back_and_refuses_html(loopback: LoopbackServer) -> None:
    loopback.route("/options/IWM.json", Reply(status=403))
    loopback.route("/mirror.json", Reply(body=_fix("repackaged_iwm_chain.json")))
    provider = ChainProvider(
        url=loopback.url("/options/{symbol}.json"),
        fallback_url=loopback.url("/mirror.json"),
        http=FAST,
    )
    snap = provider.fetch()
    assert snap.source.endswith("/mirror.json") and len(snap.contracts) == 6
    loopback.route("/mirror.json", Reply(body="<!DOCTYPE html><html></html>"))
    with pytest.raises(ProviderError, match=r"HTTP 403.*HTML page"):
        provider.fetch()


def test_real_repackaged_chain(raw_data_dir: Path) -> None:
    snap = read_chain_file(raw_data_dir / "daggerok_options-desk" / "IWM_chain_2026-07-12.json")
    assert snap.spot == pytest.approx(295.99, abs=0.01)
    assert snap.contracts["open_interest"].isna().sum() == 3
    assert snap.contracts["expiration"].min() == dt.datetime(2026, 7, 13)
