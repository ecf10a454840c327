"""Total time limits for provider fetches and for a whole ``update``.

A loopback server sends its headers at once and then the body one byte a second (a
trickle, which no per-read timeout ever trips), or accepts and never answers (a hang).
A time limit is a promise, so these tests assert that the work ends within it plus
:data:`SLACK` seconds.
"""

from __future__ import annotations

import datetime as dt
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sources.providers.chain import ChainProvider
from sources.providers.finra import FinraProvider
from sources.providers.http import (
    DeadlinePassed,
    HttpConfig,
    SourceUnavailable,
    deadline_scope,
    fetch,
    time_left,
)
from sources.providers.prices import PriceProvider
from sources.providers.vix import VixProvider
from sources.store import Store
from sources.update import Providers, update

SLACK = 2.0
QUICK = HttpConfig(
    timeout=1.0, attempts=2, deadline=30.0, backoff_max=0.05, backoff_multiplier=0.01
)
TODAY = dt.date(2026, 1, 30)


class Faulty:
    """Paths: /trickle (1 byte/s), /hang (never answers), /gzip (a compressed body)."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.requests = 0
        faulty = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                faulty.requests += 1
                try:
                    if self.path.startswith("/hang"):
                        faulty.stopping.wait(60)
                        return
                    if self.path.startswith("/gzip"):
                        data = gzip.compress(b"Date,Close\n2026-01-02,1.5\n")
                        self.send_response(200)
                        self.send_header("Content-Encoding", "gzip")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                    body = b"{" + b" " * 600 + b"}"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        if faulty.stopping.wait(1.0):
                            return
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def faulty() -> Iterator[Faulty]:
    server = Faulty()
    server.thread.start()
    yield server
    server.stopping.set()
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.mark.parametrize("path", ["/trickle", "/hang"])
def test_one_request_ends_within_its_total_time(faulty: Faulty, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="gave up after 2 attempts"):
        fetch(faulty.url(path), what="test", config=QUICK)
    elapsed = time.monotonic() - started
    assert elapsed < QUICK.attempts * QUICK.timeout + SLACK, f"{elapsed:.1f} s"
    assert faulty.requests == 2


def test_a_compressed_body_is_still_read(faulty: Faulty) -> None:
    assert fetch(faulty.url("/gzip"), what="test", config=QUICK).text.startswith("Date,Close")


def test_deadline_scopes_nest_and_stop_fetches_early(faulty: Faulty) -> None:
    assert time_left() is None
    with deadline_scope(5.0), deadline_scope(60.0):
        left = time_left()
        assert left is not None and left <= 5.0
    with deadline_scope(0.0), pytest.raises(DeadlinePassed):
        fetch(faulty.url("/gzip"), what="test", config=QUICK)
    assert faulty.requests == 0


def providers(faulty: Faulty, path: str, cache: Path) -> Providers:
    url = faulty.url(path)
    return Providers(
        prices=PriceProvider(yahoo_url=url + "/y/{symbol}", stooq_url=url + "/s", http=QUICK),
        vix=VixProvider(cboe_url=url + "/vix", yahoo_url=url + "/y/{symbol}", http=QUICK),
        dark_pool=FinraProvider(url_template=url + "/f/{ymd}", cache_dir=cache, http=QUICK),
        chain=ChainProvider(url=url + "/chain/{symbol}", http=QUICK),
    )


def test_update_with_a_trickling_chain_ends_at_its_deadline(faulty: Faulty, tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        started = time.monotonic()
        report = update(
            store,
            providers(faulty, "/trickle", tmp_path),
            TODAY,
            series=("gex",),
            deadline_seconds=1.5,
        )
        elapsed = time.monotonic() - started
    assert not report.ok and report.failed[0].series == "gex"
    assert elapsed < 1.5 + SLACK, f"{elapsed:.1f} s"


def test_update_with_every_provider_hanging_ends_at_its_deadline(
    faulty: Faulty, tmp_path: Path
) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        started = time.monotonic()
        report = update(store, providers(faulty, "/hang", tmp_path), TODAY, deadline_seconds=2.5)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5 + SLACK, f"{elapsed:.1f} s"
    assert [r.series for r in report.failed] == ["prices", "vix", "dark_pool", "gex"]
    assert "time limit" in (report.failed[-1].error or "")
