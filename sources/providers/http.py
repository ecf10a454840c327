"""The one HTTP fetch helper every provider uses: httpx with timeouts, tenacity retries.

Retries happen only on transport errors, timeouts, HTTP 429 and 5xx, with exponential
backoff plus jitter, bounded by both an attempt count and a deadline. Anything else
(403, 404, a payload that is not data) fails at once as :class:`ProviderError`.

Time limits are totals, not per read: one request (connect, headers and the whole
body) ends within ``HttpConfig.timeout``, so a server that sends one byte a second
cannot keep it alive; all attempts of one fetch end within ``HttpConfig.deadline``; and
every fetch made inside :func:`deadline_scope` (an ``update``, the refresh before a
morning post) ends by that scope's deadline.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    wait_random_exponential,
)

from engine.errors import ProviderError
from sources.reading import looks_like_html as looks_like_html  # re-exported

log = logging.getLogger(__name__)

USER_AGENT = "iwm-analyst/0.1 (+https://github.com/; personal research tool)"
#: An attempt with less time than this left is not started (seconds).
MIN_ATTEMPT_SECONDS = 0.2
#: Headers that describe the body on the wire, not the decoded body kept in memory.
_WIRE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "provider_deadline", default=None
)


@contextmanager
def deadline_scope(seconds: float) -> Iterator[None]:
    """Fetches made by this thread inside the block end within ``seconds`` in all.

    Nested scopes keep the earlier deadline. A fetch started with no time left raises
    :class:`DeadlinePassed` without touching the network.
    """
    at = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(at if outer is None else min(outer, at))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left in the enclosing :func:`deadline_scope` (None outside one)."""
    at = _DEADLINE.get()
    return None if at is None else max(0.0, at - time.monotonic())


@dataclass(frozen=True)
class HttpConfig:
    """Timeouts (seconds) and retry bounds shared by every provider."""

    timeout: float = 20.0
    attempts: int = 3
    deadline: float = 60.0
    backoff_max: float = 8.0
    backoff_multiplier: float = 0.5


class SourceUnavailable(ProviderError):
    """The server stayed unreachable, slow or failing (5xx/429) after every retry."""


class DeadlinePassed(SourceUnavailable):
    """The time limit of the enclosing update passed before this fetch could run."""


class _TooSlow(Exception):
    """One request took longer than its total time limit (a trickling body)."""


class _Retryable(Exception):
    """An HTTP status worth retrying (429, 5xx)."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable | _TooSlow | httpx.TransportError)


def make_client(config: HttpConfig) -> httpx.Client:
    """A client to share across many requests to one host (keeps connections open)."""
    return httpx.Client(
        timeout=config.timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True
    )


def fetch(
    url: str,
    *,
    what: str,
    config: HttpConfig | None = None,
    client: httpx.Client | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """GET ``url`` and return the 2xx response, body read, or raise ProviderError.

    ``what`` is a short human label ("FINRA short volume 2024-03-01") for messages.
    """
    cfg = config or HttpConfig()
    start = time.monotonic()
    overall = _DEADLINE.get()
    limit = start + cfg.deadline if overall is None else min(start + cfg.deadline, overall)
    if limit - start < MIN_ATTEMPT_SECONDS:
        raise DeadlinePassed(f"{what}: not fetched, the update's time limit had passed")
    own = client is None
    http = client or make_client(cfg)
    backoff = wait_random_exponential(multiplier=cfg.backoff_multiplier, max=cfg.backoff_max)

    def stop(state: RetryCallState) -> bool:
        left = limit - time.monotonic()
        return state.attempt_number >= cfg.attempts or left < MIN_ATTEMPT_SECONDS

    def wait(state: RetryCallState) -> float:
        return min(backoff(state), max(0.0, limit - time.monotonic() - MIN_ATTEMPT_SECONDS))

    retrying = Retrying(
        stop=stop, wait=wait, retry=retry_if_exception(_is_retryable), reraise=False
    )
    try:
        for attempt in retrying:
            with attempt:
                log.debug("GET %s (attempt %s)", url, attempt.retry_state.attempt_number)
                end = min(time.monotonic() + cfg.timeout, limit)
                return _get(http, url, params, what, end)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise SourceUnavailable(
            f"{what}: gave up after {exc.last_attempt.attempt_number} attempts ({_describe(last)})"
        ) from last
    finally:
        if own:
            http.close()
    raise ProviderError(f"{what}: no response from {url}")  # pragma: no cover


def _get(
    http: httpx.Client, url: str, params: dict[str, str] | None, what: str, end: float
) -> httpx.Response:
    """One request that ends by ``end`` (monotonic seconds), body included."""
    left = max(end - time.monotonic(), 0.001)
    with http.stream("GET", url, params=params, timeout=httpx.Timeout(left)) as resp:
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _Retryable(resp.status_code, url)
        if resp.status_code >= 400:
            raise ProviderError(
                f"{what}: the server refused the request (HTTP {resp.status_code} from {url})"
            )
        # Reading the body inside the retry lets a truncated transfer be retried; the
        # clock is checked after every chunk, so a trickle ends at the limit.
        chunks: list[bytes] = []
        for chunk in resp.iter_bytes():
            chunks.append(chunk)
            if time.monotonic() > end:
                raise _TooSlow(f"the response took longer than {left:.0f} s to arrive")
        headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
        return httpx.Response(
            resp.status_code, headers=headers, content=b"".join(chunks), request=resp.request
        )


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, _TooSlow):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out: {exc}"
    if isinstance(exc, httpx.TransportError):
        return f"network error: {type(exc).__name__}: {exc}"
    return str(exc)
