"""The model narrator: an OpenAI-compatible model writes the prose, the engine decides.

Flow for one forecast: budget check -> cache (single flight per key) -> model call with
retries at this network boundary only -> structured reply (SDK structured output, or
JSON mode for servers without it) -> grounding check (every number from the state, calls
equal to the engine's) -> one repair attempt naming the problems -> otherwise the offline
narrator, with the reason logged and shown as a short note. Nothing a model does escapes
as an exception.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import openai
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

import prompts
from bot.narrator.cache import ReplyCache, cache_key
from bot.narrator.grounding import Problem, check_narrative, redact, repair_lines
from bot.narrator.models import ForecastNarrative, Narration
from bot.narrator.offline import OfflineNarrator
from bot.settings import Settings
from engine.errors import ModelError
from engine.state import MarketState

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
Messages = list["ChatCompletionMessageParam"]

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Prompt:
    version: int
    body: str

    def fill(self, **values: object) -> str:
        return string.Template(self.body).substitute(**{k: str(v) for k, v in values.items()})


@lru_cache(maxsize=16)
def load_prompt(name: str) -> Prompt:
    """A prompt file from ``prompts/``: first line ``version: N``, then the text."""
    text = prompts.text(name)
    head, _, body = text.partition("\n")
    if not head.startswith("version:"):
        raise ModelError(f"prompt file {name} must start with 'version: N'")
    return Prompt(version=int(head.split(":", 1)[1]), body=body.strip())


def _round(value: Any) -> Any:
    """Floats to six significant digits, recursively (shorter JSON, same figures)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


_QUIET_STATS = ("horizon", "n_fired", "win_rate", "verdict")
#: What a narrative quotes of a fired rule's record; p/q-values, medians, bootstrap
#: intervals and window dates stay in the state (and in `iwm-analyst audit`).
_FIRED_STATS = (
    "horizon", "n_fired", "n_episodes", "win_rate", "win_rate_ci", "mean_return",
    "base_win_rate", "base_mean_return", "verdict",
)  # fmt: skip
_PROVENANCE = ("series", "source", "last_date", "stale_days", "note")


def compact_state(state: MarketState) -> dict[str, Any]:
    """The state for the prompt: every figure a narrative needs, in fewer tokens.

    Nulls, hashes, parameters and rationales are dropped, floats keep six significant
    digits, a fired rule keeps the record a narrative quotes (rate with its interval and
    sample size, mean return, base rate, verdict) and a quiet rule only its headline
    record; condition texts (which repeat left/op/right) go, and a claim is its text.
    The grounding check still uses the full state.
    """
    doc = state.model_dump(mode="json", exclude_none=True)
    for key in ("inputs_hash", "playbook_version", "schema_version", "params"):
        doc.pop(key, None)
    # the model needs what a warning says, not its code and dates
    doc["warnings"] = [w["text"] for w in doc.get("warnings", [])]
    doc["provenance"] = [
        {k: v for k, v in p.items() if k in _PROVENANCE and v not in (0, False)}
        for p in doc.get("provenance", [])
    ]
    for rule in doc["rules"]:
        rule.pop("rationale", None)
        if rule.get("available"):
            rule.pop("available")
        if "claim" in rule:
            rule["claim"] = rule["claim"].get("text", "")
        for check in rule.get("conditions", []):
            check.pop("text", None)
            if check.get("right") == f"{check.get('right_value', 0):g}":
                check.pop("right")
        keep = _FIRED_STATS if rule["fired"] else _QUIET_STATS
        rule["stats"] = [{k: v for k, v in st.items() if k in keep} for st in rule.get("stats", [])]
        for st in rule["stats"]:
            if isinstance(st.get("win_rate_ci"), dict):
                st["win_rate_ci"] = [st["win_rate_ci"]["low"], st["win_rate_ci"]["high"]]
        if not rule["fired"]:
            for key in ("conditions", "signal", "nickname", "direction"):
                rule.pop(key, None)
    for horizon in ("tomorrow", "next_5_days"):
        doc[horizon].pop("method", None)
    return dict(_round(doc))


def state_hash(state: MarketState) -> str:
    return hashlib.sha256(state.model_dump_json().encode()).hexdigest()


def estimate_tokens(text: str) -> int:
    """Rough token count (about four characters a token for English and JSON)."""
    return max(1, len(text) // 4)


class ModelClient:
    """Chat calls to an OpenAI-compatible server with bounded retries.

    The SDK's own retries are off (``max_retries=0``) so they do not stack with ours.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backoff_initial: float = 0.5,
        on_usage: Callable[[int, int], None] | None = None,
    ) -> None:
        if settings.openai_api_key is None:
            raise ModelError("OPENAI_API_KEY is not set")
        self.model = settings.openai_model
        self._settings = settings
        self._backoff = backoff_initial
        self._on_usage = on_usage
        self._json_mode = False
        self.client = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout,
            max_retries=0,
        )

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(RETRYABLE),
            stop=stop_after_attempt(MAX_ATTEMPTS)
            | stop_after_delay(self._settings.llm_deadline_seconds),
            wait=wait_exponential_jitter(multiplier=self._backoff, max=8 * self._backoff),
            reraise=True,
        )

    def _record_usage(self, usage: Any) -> None:
        if usage is not None and self._on_usage is not None:
            self._on_usage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))

    def structured(self, messages: Messages, schema: type[T]) -> tuple[T, str]:
        """The reply parsed into ``schema`` and its raw text.

        Uses the SDK's structured output; a server that rejects JSON-schema output (HTTP
        400) is asked again in JSON mode, and remembered.
        """
        if not self._json_mode:
            try:
                for attempt in self._retrying():
                    with attempt:
                        completion = self.client.chat.completions.parse(
                            model=self.model,
                            messages=messages,
                            response_format=schema,
                            temperature=self._settings.openai_temperature,
                        )
                self._record_usage(completion.usage)
                message = completion.choices[0].message
                if message.refusal:
                    raise ModelError(f"the model declined: {message.refusal[:200]}")
                if message.parsed is None:
                    raise ModelError("the model's reply had no content")
                return message.parsed, message.content or ""
            except openai.BadRequestError as exc:
                log.info("structured output refused (%s); switching to JSON mode", exc.status_code)
                self._json_mode = True
            except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
                raise ModelError(f"the model's reply was cut off or filtered: {exc}") from exc
            except (ValidationError, json.JSONDecodeError) as exc:
                raise ModelError(
                    f"the model's reply was not valid JSON for {schema.__name__}"
                ) from exc
        return self._json_reply(messages, schema)

    def _json_reply(self, messages: Messages, schema: type[T]) -> tuple[T, str]:
        for attempt in self._retrying():
            with attempt:
                completion = self.client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    response_format={"type": "json_object"},
                    temperature=self._settings.openai_temperature,
                )
        self._record_usage(completion.usage)
        content = completion.choices[0].message.content or ""
        try:
            return schema.model_validate_json(content), content
        except ValidationError as exc:
            raise ModelError(f"the model's reply was not valid JSON for {schema.__name__}") from exc

    def text(self, messages: Messages) -> str:
        """A plain-text reply (follow-up answers)."""
        for attempt in self._retrying():
            with attempt:
                completion = self.client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    temperature=self._settings.openai_temperature,
                )
        self._record_usage(completion.usage)
        message = completion.choices[0].message
        if getattr(message, "refusal", None):
            raise ModelError("the model declined to answer")
        return (message.content or "").strip()


def describe_failure(exc: Exception) -> str:
    """A short, key-free reason for a note."""
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
    if isinstance(exc, ModelError):
        return str(exc)
    return f"unexpected {type(exc).__name__}"


class LLMNarrator:
    """Writes the narrative with a model; falls back to the offline template."""

    def __init__(
        self,
        settings: Settings,
        cache: ReplyCache,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        backoff_initial: float = 0.5,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.name = f"model:{settings.openai_model}"
        self.client = ModelClient(settings, backoff_initial=backoff_initial, on_usage=self._usage)
        #: Called after each checked reply with ("first" | "repair", narrative, problems);
        #: the narrator evaluation (bench/narrator_eval.py) records them.
        self.on_attempt: Callable[[str, ForecastNarrative, list[Problem]], None] | None = None

    def _day(self) -> str:
        return self.clock().astimezone(dt.UTC).date().isoformat()

    def _usage(self, prompt: int, completion: int) -> None:
        self.cache.add_usage(self._day(), self.settings.openai_model, prompt, completion)

    def over_budget(self) -> bool:
        return self.cache.tokens_on(self._day()) >= self.settings.llm_daily_token_budget

    def messages(self, state: MarketState) -> Messages:
        system = load_prompt("system_forecast.md")
        user = load_prompt("user_forecast.md").fill(
            ticker=state.ticker,
            as_of=state.as_of.isoformat(),
            state_json=json.dumps(compact_state(state), separators=(",", ":")),
        )
        return [{"role": "system", "content": system.body}, {"role": "user", "content": user}]

    def key(self, state: MarketState) -> str:
        version = (
            load_prompt("system_forecast.md").version,
            load_prompt("user_forecast.md").version,
            load_prompt("repair_forecast.md").version,
        )
        return cache_key(
            "forecast", state.ticker, state.as_of, state_hash(state), version, self.name
        )

    def narrate(self, state: MarketState) -> Narration:
        try:
            return self._narrate(state)
        except Exception as exc:  # a model must never break a forecast
            log.exception("model narrator failed; using the offline template")
            return _offline(state, f"offline template used: {describe_failure(exc)}")

    def _narrate(self, state: MarketState) -> Narration:
        key = self.key(state)
        with self.cache.single_flight(key):
            cached = self.cache.get(key)
            if cached is not None:
                return Narration(ForecastNarrative.model_validate_json(cached), self.name)
            if self.over_budget():
                return _offline(
                    state,
                    "offline template used: today's model token budget "
                    f"(LLM_DAILY_TOKEN_BUDGET={self.settings.llm_daily_token_budget}) is spent",
                )
            try:
                narrative = self._write(state)
            except (ModelError, openai.OpenAIError) as exc:
                reason = describe_failure(exc)
                log.warning("model narrative rejected: %s", reason)
                return _offline(state, f"offline template used: {reason}")
            self.cache.put(
                key, "forecast", self.name, narrative.model_dump_json(), self.clock().isoformat()
            )
            return Narration(narrative, self.name)

    def _write(self, state: MarketState) -> ForecastNarrative:
        messages = self.messages(state)
        narrative, raw = self.client.structured(messages, ForecastNarrative)
        problems = check_narrative(narrative, state)
        self._report("first", narrative, problems)
        if not problems:
            return narrative
        log.info("model narrative needs repair: %s", "; ".join(p.detail for p in problems))
        messages += [
            {"role": "assistant", "content": raw or narrative.model_dump_json()},
            {"role": "user", "content": repair_message(problems, state)},
        ]
        first, first_problems = narrative, problems
        narrative, _ = self.client.structured(messages, ForecastNarrative)
        problems = check_narrative(narrative, state)
        self._report("repair", narrative, problems)
        if problems:
            # Last resort: the model's own sentences that passed, if every field keeps one.
            for draft, found in ((narrative, problems), (first, first_problems)):
                trimmed = redact(draft, found, state)
                if trimmed is not None and not check_narrative(trimmed, state):
                    log.info("model narrative: %s failing sentence(s) removed", len(found))
                    self._report("trimmed", trimmed, [])
                    return trimmed
            # The offending figures go to the log only: a note must not repeat them.
            log.warning(
                "model narrative failed again after repair: %s",
                "; ".join(p.detail for p in problems),
            )
            checks = sorted({p.check for p in problems})
            raise ModelError(f"the model's text failed the {' and '.join(checks)} check")
        return narrative

    def _report(self, attempt: str, narrative: ForecastNarrative, problems: list[Problem]) -> None:
        if self.on_attempt is not None:
            self.on_attempt(attempt, narrative, problems)


def repair_message(problems: Sequence[Problem], state: MarketState) -> str:
    """The repair request: each offending sentence quoted, what the state holds instead."""
    return load_prompt("repair_forecast.md").fill(
        problems=repair_lines(problems),
        immediate_call=state.tomorrow.call,
        five_day_call=state.next_5_days.call,
        five_day_flavour=state.next_5_days.flavour,
        fired=", ".join(r.name for r in state.fired_rules) or "none",
        as_of=state.as_of.isoformat(),
    )


def _offline(state: MarketState, note: str) -> Narration:
    return OfflineNarrator(notes=(note,)).narrate(state)


def prompt_tokens(messages: Sequence[dict[str, str]]) -> int:
    """Estimated tokens of a prompt (see :func:`estimate_tokens`)."""
    return sum(estimate_tokens(m["content"]) for m in messages)
