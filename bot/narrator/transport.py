"""Limits on the HTTP under the model client: a hard time limit and a size limit per call.

Per-read timeouts do not bound a call: a server that sends one byte every two seconds
never trips a 10-second read timeout. The httpx event hooks of :func:`limit_hooks`, for
the deadline in effect (:func:`deadline_scope`), cap every timeout of a request at the
time remaining and check the total elapsed time after every chunk of the body, so a
trickling reply ends at the deadline. (Hooks rather than a transport, so httpx still
honours the proxy settings of the environment.) It also stops reading a body larger than
``max_bytes`` (a runaway reply) and refuses a successful reply that is not JSON or
server-sent events (a proxy's HTML page). All raise :class:`engine.errors.ModelError`
subclasses, which the openai SDK passes through untouched (no SDK retry, no wrapping).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from bot.narrator.deadline import Deadline
from engine.errors import ModelError

_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "model_call_deadline", default=None
)


class DeadlineExceeded(ModelError):
    """The model did not finish answering in time."""

    def __init__(self) -> None:
        super().__init__("the model service timed out")


class NotACompletion(ModelError):
    """A 2xx reply whose body is neither JSON nor an event stream."""

    def __init__(self) -> None:
        super().__init__("the model service's reply was not a chat completion")


class ReplyTooLarge(ModelError):
    """The reply body exceeded the size limit; it is never read further."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the model's reply was longer than {limit // 1024} KiB")


@contextmanager
def deadline_scope(deadline: Deadline) -> Iterator[None]:
    """Requests made by this thread inside the block end by ``deadline``."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class _BoundedStream(httpx.SyncByteStream):
    def __init__(
        self, inner: httpx.SyncByteStream, deadline: Deadline | None, max_bytes: int
    ) -> None:
        self._inner = inner
        self._deadline = deadline
        self._max_bytes = max_bytes

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._inner:
            seen += len(chunk)
            if seen > self._max_bytes:
                raise ReplyTooLarge(self._max_bytes)
            if self._deadline is not None and self._deadline.expired():
                raise DeadlineExceeded()
            yield chunk

    def close(self) -> None:
        self._inner.close()


def limit_hooks(max_bytes: int) -> dict[str, list[Callable[..., None]]]:
    """``event_hooks`` for an ``httpx.Client``: the limits above on every request."""

    def on_request(request: httpx.Request) -> None:
        deadline = _DEADLINE.get()
        if deadline is None:
            return
        left = deadline.remaining()
        if left <= 0:
            raise DeadlineExceeded()
        given = request.extensions.get("timeout", {})
        request.extensions["timeout"] = {
            phase: left if given.get(phase) is None else min(float(given[phase]), left)
            for phase in ("connect", "read", "write", "pool")
        }

    def on_response(response: httpx.Response) -> None:
        kind = response.headers.get("content-type", "").lower()
        if response.is_success and kind and "json" not in kind and "event-stream" not in kind:
            response.close()
            raise NotACompletion()
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _BoundedStream(response.stream, _DEADLINE.get(), max_bytes)

    return {"request": [on_request], "response": [on_response]}
