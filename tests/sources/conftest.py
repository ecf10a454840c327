"""A reusable loopback HTTP server for provider tests (127.0.0.1, ephemeral port).

Usage::

    def test_x(loopback):
        loopback.route("/a.csv", Reply(body=b"..."))            # always this reply
        loopback.route("/b", [Reply(status=500), Reply(body=b"ok")])  # one per request
        loopback.route_prefix("/day/", lambda path: Reply(...))  # computed per path
        url = loopback.url("/a.csv")

Faults: ``Reply(status=403)``, ``Reply(delay=2.0)`` (slow: client timeouts),
``Reply(truncate=True)`` (announces a longer Content-Length, then closes: truncated
body). Unknown paths answer 404. ``loopback.requests`` lists every path requested.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain; charset=utf-8"
    delay: float = 0.0
    truncate: bool = False

    def data(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body


Handler = Reply | list[Reply] | Callable[[str], Reply]


@dataclass
class LoopbackServer:
    host: str
    port: int
    routes: dict[str, Handler] = field(default_factory=dict)
    prefixes: dict[str, Callable[[str], Reply]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = list(handler) if isinstance(handler, list) else handler

    def route_prefix(self, prefix: str, handler: Callable[[str], Reply]) -> None:
        self.prefixes[prefix] = handler

    def count(self, prefix: str = "") -> int:
        return sum(1 for p in self.requests if p.startswith(prefix))

    def reply_for(self, raw_path: str) -> Reply:
        path = raw_path.split("?", 1)[0]
        with self.lock:
            self.requests.append(path)
            handler = self.routes.get(path)
            if isinstance(handler, list):
                return handler.pop(0) if len(handler) > 1 else handler[0]
        if isinstance(handler, Reply):
            return handler
        if handler is not None:
            return handler(path)
        for prefix, fn in self.prefixes.items():
            if path.startswith(prefix):
                return fn(path)
        return Reply(status=404, body=b"not found")


def _make_handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class _H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply = server.reply_for(self.path)
            if reply.delay:
                time.sleep(reply.delay)
            data = reply.data()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                length = len(data) + (1000 if reply.truncate else 0)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if reply.truncate else data)
                if reply.truncate:
                    self.close_connection = True
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    return _H


@contextmanager
def serve() -> Iterator[LoopbackServer]:
    """Run a loopback server in a thread for the duration of the block (tests, bench)."""
    state = LoopbackServer("127.0.0.1", 0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A fresh loopback HTTP server per test; stopped at the end."""
    with serve() as server:
        yield server
