"""Chat calls to an OpenAI-compatible server, each ending by a :class:`Deadline`.

Three layers keep a call inside its deadline, whatever the server does:

* every attempt runs under :func:`~bot.narrator.transport.deadline_scope`, so each HTTP
  phase is capped at the time left and a trickling body is cut at the deadline (the
  attempt itself is also capped at ``OPENAI_TIMEOUT``, body included);
* retries (rate limits, 5xx, connection errors, timeouts) stop when another attempt
  would not fit, and never sleep past the deadline;
* the whole call runs in a daemon thread the caller stops waiting for at the deadline,
  so nothing the SDK does after the last byte (or a slow connect) can hold a person up.

The SDK's own retries are off (``max_retries=0``) so they do not stack with ours.
Replies are bounded too: ``max_tokens`` is requested (``LLM_MAX_REPLY_TOKENS``) and a
body beyond a size limit is not read. ``OPENAI_STREAM=true`` asks for server-sent
events (then in JSON mode for structured replies); the same limits apply.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from bot.narrator.deadline import Deadline
from bot.narrator.transport import DeadlineExceeded, deadline_scope, limit_hooks
from bot.settings import Settings
from engine.errors import ModelError

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
Messages = list["ChatCompletionMessageParam"]

MAX_ATTEMPTS = 3
#: An attempt with less time than this left is not started.
MIN_ATTEMPT_SECONDS = 0.5
#: How long the caller waits past the deadline for the call's own timeout error, which
#: names the cause better than the caller's.
CALLER_SLACK_SECONDS = 0.2


class StreamBroken(ModelError):
    """The connection failed in the middle of a streamed reply (worth one more try)."""

    def __init__(self) -> None:
        super().__init__("the model service could not be reached")


RETRYABLE: tuple[type[Exception], ...] = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APIConnectionError,
    StreamBroken,
)


def estimate_tokens(text: str) -> int:
    """Rough token count (about four characters a token for English and JSON)."""
    return max(1, len(text) // 4)


def reply_byte_limit(max_tokens: int) -> int:
    """Bytes of reply body worth reading for ``max_tokens`` (generous: JSON escapes)."""
    return max(64 * 1024, max_tokens * 32)


def _first_message(completion: object) -> Any:
    """The first choice's message; ModelError for a body that is no chat completion."""
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list):
        raise ModelError("the model service's reply was not a chat completion")
    if not choices:
        raise ModelError("the model's reply had no choices")
    return choices[0].message


def run_by(deadline: Deadline, fn: Callable[[], R]) -> R:
    """``fn()`` in a daemon thread; DeadlineExceeded if it is not done by ``deadline``.

    The thread is left to finish on its own (the HTTP limits end its requests at the
    deadline too), so the caller, and any lock it holds, is free on time.
    """
    if deadline.remaining() < MIN_ATTEMPT_SECONDS:
        raise DeadlineExceeded()  # too little time left to be worth a request
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller as is
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="model-call", daemon=True).start()
    if not done.wait(deadline.remaining() + CALLER_SLACK_SECONDS):
        raise DeadlineExceeded()
    if "error" in box:
        raise box["error"]
    return cast(R, box["value"])


class ModelClient:
    """Structured and plain-text chat calls with the limits above."""

    def __init__(
        self,
        settings: Settings,
        *,
        backoff_initial: float = 0.5,
        on_usage: Callable[[int, int], None] | None = None,
    ) -> None:
        key = settings.openai_api_key
        if key is None or not key.get_secret_value().strip():
            raise ModelError("OPENAI_API_KEY is not set")
        self.model = settings.openai_model
        self._settings = settings
        self._backoff = backoff_initial
        self._on_usage = on_usage
        # Servers without JSON-schema output are asked in JSON mode (remembered); so
        # are streamed replies.
        self._json_mode = settings.openai_stream
        self._http = httpx.Client(
            timeout=settings.openai_timeout,
            event_hooks=limit_hooks(reply_byte_limit(settings.llm_max_reply_tokens)),
        )
        self.client = openai.OpenAI(
            api_key=key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout,
            max_retries=0,
            # openai 1.x takes an httpx.Client; later versions still accept one.
            http_client=cast(Any, self._http),
        )

    def close(self) -> None:
        self._http.close()

    # --- public calls ------------------------------------------------------------------
    def structured(self, messages: Messages, schema: type[T], deadline: Deadline) -> tuple[T, str]:
        """The reply parsed into ``schema`` and its raw text, by ``deadline``."""
        return run_by(deadline, lambda: self._structured(messages, schema, deadline))

    def text(self, messages: Messages, deadline: Deadline) -> str:
        """A plain-text reply (follow-up answers), by ``deadline``."""
        return run_by(deadline, lambda: self._complete(messages, deadline, json_mode=False))

    # --- retries -----------------------------------------------------------------------
    def _retry(self, deadline: Deadline, call: Callable[[float], R]) -> R:
        """``call(timeout)`` with bounded retries; each attempt ends by its own deadline."""
        backoff = wait_random_exponential(multiplier=self._backoff, max=8 * self._backoff)

        def stop(state: RetryCallState) -> bool:
            return state.attempt_number >= MAX_ATTEMPTS or (
                deadline.remaining() < MIN_ATTEMPT_SECONDS
            )

        def wait(state: RetryCallState) -> float:
            return min(backoff(state), max(0.0, deadline.remaining() - MIN_ATTEMPT_SECONDS))

        for attempt in Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, RETRYABLE)),
            stop=stop,
            wait=wait,
            reraise=True,
        ):
            with attempt:
                this = deadline.cap(self._settings.openai_timeout)
                with deadline_scope(this):
                    return call(max(this.remaining(), 0.001))
        raise DeadlineExceeded()  # pragma: no cover - Retrying either returns or raises

    def _record_usage(self, prompt: int, completion: int) -> None:
        if self._on_usage is not None:
            self._on_usage(prompt, completion)

    def _usage_from(self, usage: Any) -> None:
        if usage is not None:
            self._record_usage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))

    # --- calls -------------------------------------------------------------------------
    def _structured(self, messages: Messages, schema: type[T], deadline: Deadline) -> tuple[T, str]:
        if not self._json_mode:
            try:
                completion = self._retry(
                    deadline,
                    lambda timeout: self.client.chat.completions.parse(
                        model=self.model,
                        messages=messages,
                        response_format=schema,
                        temperature=self._settings.openai_temperature,
                        max_tokens=self._settings.llm_max_reply_tokens,
                        timeout=timeout,
                    ),
                )
            except openai.BadRequestError as exc:
                log.info("structured output refused (%s); switching to JSON mode", exc.status_code)
                self._json_mode = True
            except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
                raise ModelError("the model's reply was cut off or filtered") from exc
            except (ValidationError, json.JSONDecodeError) as exc:
                raise ModelError(
                    f"the model's reply was not valid JSON for {schema.__name__}"
                ) from exc
            else:
                self._usage_from(getattr(completion, "usage", None))
                message = _first_message(completion)
                if getattr(message, "refusal", None):
                    raise ModelError("the model declined to write it")
                if message.parsed is None:
                    raise ModelError("the model's reply had no content")
                return message.parsed, message.content or ""
        content = self._complete(messages, deadline, json_mode=True)
        try:
            return schema.model_validate_json(content), content
        except ValidationError as exc:
            raise ModelError(f"the model's reply was not valid JSON for {schema.__name__}") from exc

    def _complete(self, messages: Messages, deadline: Deadline, *, json_mode: bool) -> str:
        extra: dict[str, Any] = {"response_format": {"type": "json_object"}} if json_mode else {}
        if self._settings.openai_stream:
            return self._retry(deadline, lambda timeout: self._streamed(messages, timeout, extra))
        completion = self._retry(
            deadline,
            lambda timeout: self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=self._settings.openai_temperature,
                max_tokens=self._settings.llm_max_reply_tokens,
                timeout=timeout,
                **extra,
            ),
        )
        self._usage_from(getattr(completion, "usage", None))
        message = _first_message(completion)
        if getattr(message, "refusal", None):
            raise ModelError("the model declined to answer")
        return (message.content or "").strip()

    def _streamed(self, messages: Messages, timeout: float, extra: dict[str, Any]) -> str:
        """One streamed attempt: the deltas joined; usage recorded (estimated if absent)."""
        stream = self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            temperature=self._settings.openai_temperature,
            max_tokens=self._settings.llm_max_reply_tokens,
            timeout=timeout,
            stream=True,
            stream_options={"include_usage": True},
            **extra,
        )
        parts: list[str] = []
        usage: Any = None
        refused = False
        try:
            for chunk in stream:
                usage = getattr(chunk, "usage", None) or usage
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if delta is None:
                        continue
                    if delta.content:
                        parts.append(delta.content)
                    refused = refused or bool(getattr(delta, "refusal", None))
        except httpx.TimeoutException as exc:
            raise DeadlineExceeded() from exc
        except httpx.TransportError as exc:
            raise StreamBroken() from exc
        finally:
            stream.close()
        text = "".join(parts).strip()
        if usage is not None:
            self._usage_from(usage)
        else:
            prompt = sum(estimate_tokens(str(m.get("content") or "")) for m in messages)
            self._record_usage(prompt, estimate_tokens(text))
        if refused:
            raise ModelError("the model declined to answer")
        return text


def describe_failure(exc: BaseException) -> str:
    """A short, key-free reason for a note (never the model's own words)."""
    if isinstance(exc, openai.RateLimitError):
        return "the model service is rate-limiting"
    if isinstance(exc, openai.APITimeoutError):
        return (
            "the model service timed out (a slow or local model needs a larger "
            "OPENAI_TIMEOUT and LLM_DEADLINE_SECONDS)"
        )
    if isinstance(exc, openai.APIConnectionError):
        return "the model service could not be reached"
    if isinstance(exc, openai.APIStatusError):
        return f"the model service answered HTTP {exc.status_code}"
    if isinstance(exc, openai.APIResponseValidationError):
        return "the model service's reply was not a chat completion"
    if isinstance(exc, ModelError):
        return str(exc)
    return f"unexpected {type(exc).__name__}"
