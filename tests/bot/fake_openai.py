"""An OpenAI-compatible chat-completions server on 127.0.0.1, scripted per test.

The real ``openai`` client talks to it over HTTP. Each request takes the next scripted
reply (status, JSON body, delay); when the script runs out, ``default`` answers. Every
request body is recorded.

Faults: ``delay`` (silence before the headers), ``hang`` (headers never come; released
when the server stops), ``trickle`` (headers at once, then the body one byte every
``trickle`` seconds), any ``content_type`` and a text ``body`` (an HTML error page).
A request with ``"stream": true`` gets a 200 completion as server-sent events (the
content in small deltas, then the usage, then ``[DONE]``), trickled the same way.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay: float = 0.0
    trickle: float = 0.0
    hang: bool = False
    content_type: str = "application/json"


def sse(body: dict[str, Any], piece: int = 16) -> bytes:
    """A chat.completion body as the chunks a streaming server sends."""
    message = body["choices"][0]["message"] if body.get("choices") else {}
    content = message.get("content") or ""
    base = {k: body[k] for k in ("id", "created", "model") if k in body}
    base["object"] = "chat.completion.chunk"
    events = []
    for i in range(0, max(len(content), 1), piece):
        delta: dict[str, Any] = {"content": content[i : i + piece]}
        if i == 0:
            delta["role"] = "assistant"
            if message.get("refusal"):
                delta["refusal"] = message["refusal"]
        events.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if body.get("usage"):
        events.append({**base, "choices": [], "usage": body["usage"]})
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def completion(
    content: str | None, *, refusal: str | None = None, tokens: tuple[int, int] = (120, 60)
) -> dict[str, Any]:
    """A chat.completion body with one choice."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content, "refusal": refusal},
            }
        ],
        "usage": {
            "prompt_tokens": tokens[0],
            "completion_tokens": tokens[1],
            "total_tokens": sum(tokens),
        },
    }


def error(status: int, message: str = "scripted error") -> Reply:
    return Reply(status=status, body={"error": {"message": message, "type": "test", "code": None}})


@dataclass
class FakeOpenAI:
    script: list[Reply] = field(default_factory=list)
    default: Reply | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closing: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append({"path": self.path, "body": body})
                    reply = fake.script.pop(0) if fake.script else fake.default
                if reply is None:
                    reply = error(500, "script exhausted")
                if reply.hang or reply.delay:
                    fake._closing.wait(None if reply.hang else reply.delay)
                    if reply.hang:
                        return
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = payload.encode()
                content_type = reply.content_type
                if body.get("stream") and reply.status == 200 and isinstance(reply.body, dict):
                    data, content_type = sse(reply.body), "text/event-stream"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if not reply.trickle:
                        self.wfile.write(data)
                        return
                    self.wfile.flush()
                    for byte in data:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        if fake._closing.wait(reply.trickle):
                            return
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()  # releases hanging and trickling replies
        self._server.shutdown()
        self._server.server_close()

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]
