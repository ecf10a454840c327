"""How long people wait when the model or a provider misbehaves, against the deadline.

Loopback servers stand in for the faults: a model that sends its reply one byte every
two seconds (trickle) or never answers (hang), and a chain server that sends one byte a
second. Reports, each next to its limit: forecast and ask against a trickling model,
the slowest of ten concurrent forecasts against a hanging model (one model call between
them, the others wait on it until their deadline), and ``update --only gex`` against the
trickling chain. The first forecast also builds the model client (once per process).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEADLINE = 5.0
CONCURRENT = 10


def _trickling_chain() -> tuple[ThreadingHTTPServer, threading.Event]:
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = b"{" + b" " * 200 + b"}"
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if stop.wait(1.0):
                        return
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, stop


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run() -> list[str]:
    from bot.narrator.factory import NarratorChooser
    from bot.narrator.offline import OfflineNarrator
    from bot.service import AnalystService, DataRequest
    from bot.settings import load_settings
    from sources.providers.chain import ChainProvider
    from sources.providers.http import HttpConfig
    from sources.store import Store
    from sources.update import Providers, update
    from tests.bot.fake_openai import FakeOpenAI, Reply, completion

    demo = DataRequest(demo=True)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IWM_DATA_DIR"] = tmp
        fake = FakeOpenAI().start()
        try:
            settings = load_settings(
                OPENAI_API_KEY="sk-bench",
                OPENAI_BASE_URL=fake.base_url,
                OPENAI_MODEL="bench",
                LLM_DEADLINE_SECONDS=DEADLINE,
            )
            service = AnalystService(settings, narrator_factory=NarratorChooser())
            state = service.state(demo)
            narrative = OfflineNarrator().write(state).model_dump_json()
            fake.default = Reply(body=completion(narrative), trickle=2.0)
            forecast = _timed(lambda: service.forecast(demo))
            ask = _timed(lambda: service.ask(demo, "what does the rsi say?"))
            lines.append(
                f"trickling model (1 byte / 2 s), deadline {DEADLINE:g} s: forecast "
                f"{forecast:.1f} s, ask {ask:.1f} s"
            )
            fake.default = Reply(hang=True)
            times: list[float] = []
            one_day = dt.date(2025, 12, 30)  # a state no earlier run has cached

            def one() -> None:
                times.append(_timed(lambda: service.forecast(demo, as_of=one_day)))

            service.state(demo, one_day)
            threads = [threading.Thread(target=one) for _ in range(CONCURRENT)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            lines.append(
                f"{CONCURRENT} concurrent forecasts, hanging model, deadline {DEADLINE:g} s: "
                f"slowest {max(times):.1f} s, {len(fake.requests) - 2} model call(s)"
            )
        finally:
            fake.stop()
        server, stop = _trickling_chain()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/chain.json"
            chain = ChainProvider(url=url, http=HttpConfig(timeout=2.0, attempts=3))
            # Only the chain is asked for (series=("gex",)); the other slots stay empty.
            providers = Providers(None, None, None, chain)  # type: ignore[arg-type]
            with Store(Path(tmp) / "bench.sqlite3") as store:
                took = _timed(
                    lambda: update(
                        store,
                        providers,
                        dt.date(2026, 1, 30),
                        series=("gex",),
                        deadline_seconds=DEADLINE,
                    )
                )
            lines.append(
                f"update --only gex, chain at 1 byte/s, request limit 2 s, update deadline "
                f"{DEADLINE:g} s: {took:.1f} s"
            )
        finally:
            stop.set()
            server.shutdown()
            server.server_close()
        os.environ.pop("IWM_DATA_DIR", None)
    return lines
