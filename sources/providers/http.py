"""The one HTTP fetch helper every provider uses: httpx with timeouts, tenacity retries.

Retries happen only on transport errors, timeouts, HTTP 429 and 5xx, with exponential
backoff plus jitter, bounded by both an attempt count and a deadline. Anything else
(403, 404, a payload that is not data) fails at once as :class:`ProviderError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from engine.errors import ProviderError

log = logging.getLogger(__name__)

USER_AGENT = "iwm-analyst/0.1 (+https://github.com/; personal research tool)"


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


class _Retryable(Exception):
    """An HTTP status worth retrying (429, 5xx)."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable | httpx.TransportError)


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
    """GET ``url`` and return the 2xx response, or raise ProviderError naming ``what``.

    ``what`` is a short human label ("FINRA short volume 2024-03-01") for messages.
    """
    cfg = config or HttpConfig()
    own = client is None
    http = client or make_client(cfg)
    retrying = Retrying(
        stop=stop_after_attempt(cfg.attempts) | stop_after_delay(cfg.deadline),
        wait=wait_random_exponential(multiplier=cfg.backoff_multiplier, max=cfg.backoff_max),
        retry=retry_if_exception(_is_retryable),
        reraise=False,
    )
    try:
        for attempt in retrying:
            with attempt:
                log.debug("GET %s (attempt %s)", url, attempt.retry_state.attempt_number)
                resp = http.get(url, params=params)
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise _Retryable(resp.status_code, url)
                if resp.status_code >= 400:
                    raise ProviderError(
                        f"{what}: the server refused the request (HTTP {resp.status_code} "
                        f"from {url})"
                    )
                # Reading the body inside the retry lets a truncated transfer be retried.
                resp.read()
                return resp
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise SourceUnavailable(
            f"{what}: gave up after {exc.last_attempt.attempt_number} attempts ({_describe(last)})"
        ) from last
    finally:
        if own:
            http.close()
    raise ProviderError(f"{what}: no response from {url}")  # pragma: no cover


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out: {exc}"
    if isinstance(exc, httpx.TransportError):
        return f"network error: {type(exc).__name__}: {exc}"
    return str(exc)


def looks_like_html(text: str) -> bool:
    """True when a body is an HTML page (error pages served with HTTP 200)."""
    head = text.lstrip()[:512].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in head
