"""The model narrator: an OpenAI-compatible model writes the prose, the engine decides.

Flow for one forecast, all by one :class:`~bot.narrator.deadline.Deadline`: cache ->
single flight per key (a request that would wait past its deadline answers from the
template instead) -> budget check -> model call (:mod:`bot.narrator.client`: bounded
retries, a hard time limit, a size limit) -> structured reply -> checks (every number
from the state, calls equal to the engine's, also in the prose, no mentions, links or
injected instructions, fields of sensible length) -> one repair attempt naming the
problems -> otherwise the offline narrator, with the reason logged on one line and shown
as a short note. Only a reply that passed is cached, and a cached reply is checked again
before use. The text shown is cleaned (:func:`bot.narrator.safety.clean_text`). Nothing
a model does escapes as an exception.
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
from typing import Any, Literal

import openai

import prompts
from bot.narrator.cache import ReplyCache, cache_key
from bot.narrator.calls import call_problems
from bot.narrator.client import Messages, ModelClient, describe_failure, estimate_tokens
from bot.narrator.deadline import Deadline
from bot.narrator.models import ForecastNarrative, Narration
from bot.narrator.numbers import ungrounded_numbers
from bot.narrator.offline import OfflineNarrator
from bot.narrator.safety import clean_text, unsafe_content
from bot.settings import Settings
from engine.errors import ModelError
from engine.state import MarketState

__all__ = [
    "LLMNarrator",
    "Messages",
    "ModelClient",
    "Problem",
    "compact_state",
    "describe_failure",
    "estimate_tokens",
    "load_prompt",
    "problems_with",
]

log = logging.getLogger(__name__)

#: Longest text a narrative field may hold (characters): short labels, then prose.
FIELD_LIMITS: dict[str, int] = {"five_day_flavour": 60, "strategy_title": 100}
PROSE_LIMIT = 1500
PROSE_FIELDS = (
    "immediate_assessment",
    "five_day_flavour",
    "five_day_rationale",
    "strategy_title",
    "strategy",
)


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
_DROP_STATS = ("window_start", "window_end", "claim_win_rate", "claim_mean_return")


def compact_state(state: MarketState) -> dict[str, Any]:
    """The state for the prompt: every figure a narrative needs, in fewer tokens.

    Nulls, hashes and rationales are dropped, floats keep six significant digits, rules
    that did not fire keep only their headline record, and condition texts (which
    repeat left/op/right) go. The grounding check still uses the full state.
    """
    doc = state.model_dump(mode="json", exclude_none=True)
    for key in ("inputs_hash", "playbook_version", "schema_version", "params"):
        doc.pop(key, None)
    # the model needs what a warning says, not its code and dates
    doc["warnings"] = [w["text"] for w in doc.get("warnings", [])]
    for rule in doc["rules"]:
        rule.pop("rationale", None)
        for check in rule.get("conditions", []):
            check.pop("text", None)
        for stats in rule.get("stats", []):
            keep = _QUIET_STATS if not rule["fired"] else None
            for key in list(stats):
                if (keep is not None and key not in keep) or key in _DROP_STATS:
                    stats.pop(key)
        if not rule["fired"]:
            rule.pop("conditions", None)
    return dict(_round(doc))


def state_hash(state: MarketState) -> str:
    return hashlib.sha256(state.model_dump_json().encode()).hexdigest()


@dataclass(frozen=True)
class Problem:
    """Why a model's text cannot be shown: which check failed, and the detail."""

    check: Literal["number", "call", "safety", "length"]
    text: str


def problems_with(
    narrative: ForecastNarrative, state: MarketState, allowed_hosts: Sequence[str] = ()
) -> list[Problem]:
    """Why a narrative cannot be shown: invented numbers, other calls, unsafe or long text."""
    problems: list[Problem] = []
    fields = {name: str(getattr(narrative, name)) for name in PROSE_FIELDS}
    text = " ".join(fields.values())
    bad = ungrounded_numbers(text, state)
    if bad:
        problems.append(
            Problem("number", f"numbers not in the state: {', '.join(dict.fromkeys(bad))}")
        )
    if narrative.immediate_call != state.tomorrow.call:
        problems.append(
            Problem(
                "call",
                f"immediate_call must be {state.tomorrow.call}, not {narrative.immediate_call}",
            )
        )
    if narrative.five_day_call != state.next_5_days.call:
        problems.append(
            Problem(
                "call",
                f"five_day_call must be {state.next_5_days.call}, not {narrative.five_day_call}",
            )
        )
    problems += [Problem("call", p) for p in call_problems(text, state)]
    problems += [Problem("safety", p) for p in unsafe_content(text, allowed_hosts)]
    for name, value in fields.items():
        limit = FIELD_LIMITS.get(name, PROSE_LIMIT)
        if len(value) > limit:
            problems.append(
                Problem("length", f"{name} has {len(value)} characters; at most {limit}")
            )
    return problems


def clean_narrative(
    narrative: ForecastNarrative, allowed_hosts: Sequence[str]
) -> ForecastNarrative:
    """The narrative with every prose field passed through :func:`clean_text`."""
    return narrative.model_copy(
        update={
            name: clean_text(
                str(getattr(narrative, name)),
                limit=FIELD_LIMITS.get(name, PROSE_LIMIT),
                allowed_hosts=allowed_hosts,
            )
            for name in PROSE_FIELDS
        }
    )


#: Which check a note names when a reply is rejected, most serious first.
_CHECK_ORDER: tuple[str, ...] = ("safety", "call", "number", "length")


def rejection(problems: Sequence[Problem]) -> ModelError:
    """The error for a reply that failed after repair; its text is safe to show."""
    checks = {p.check for p in problems}
    check = next(c for c in _CHECK_ORDER if c in checks)
    return ModelError(f"the model's text failed the {check} check")


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
        self._hosts = settings.allowed_link_hosts

    def _day(self) -> str:
        return self.clock().astimezone(dt.UTC).date().isoformat()

    def _usage(self, prompt: int, completion: int) -> None:
        self.cache.add_usage(self._day(), self.settings.openai_model, prompt, completion)

    def over_budget(self) -> bool:
        return self.cache.tokens_on(self._day()) >= self.settings.llm_daily_token_budget

    def deadline(self) -> Deadline:
        """A fresh deadline for one answer (LLM_DEADLINE_SECONDS from now)."""
        return Deadline.after(self.settings.llm_deadline_seconds)

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

    def narrate(self, state: MarketState, deadline: Deadline | None = None) -> Narration:
        """The model's narrative by ``deadline`` (default: LLM_DEADLINE_SECONDS from now)."""
        try:
            return self._narrate(state, deadline or self.deadline())
        except Exception as exc:  # a model must never break a forecast
            reason = describe_failure(exc)
            log.warning("model narrator failed (%s); using the offline template", reason)
            log.debug("model narrator failure", exc_info=True)
            return _offline(state, f"offline template used: {reason}")

    def _cached(self, key: str, state: MarketState) -> Narration | None:
        raw = self.cache.get(key)
        if raw is None:
            return None
        try:
            narrative = ForecastNarrative.model_validate_json(raw)
        except ValueError:
            log.info("ignoring an unreadable cached narrative")
            return None
        if problems_with(narrative, state, self._hosts):
            log.info("ignoring a cached narrative that no longer passes the checks")
            return None
        return Narration(clean_narrative(narrative, self._hosts), self.name)

    def _narrate(self, state: MarketState, deadline: Deadline) -> Narration:
        key = self.key(state)
        cached = self._cached(key, state)
        if cached is not None:
            return cached
        with self.cache.single_flight(key, timeout=deadline.remaining()) as mine:
            if not mine:
                # Another request is calling the model for the same forecast and did not
                # finish within this request's deadline.
                return self._cached(key, state) or _offline(
                    state, "offline template used: the model service timed out"
                )
            cached = self._cached(key, state)
            if cached is not None:
                return cached
            if self.over_budget():
                return _offline(
                    state,
                    "offline template used: today's model token budget "
                    f"(LLM_DAILY_TOKEN_BUDGET={self.settings.llm_daily_token_budget}) is spent",
                )
            try:
                narrative = self._write(state, deadline)
            except (ModelError, openai.OpenAIError) as exc:
                reason = describe_failure(exc)
                log.warning("model narrative rejected: %s", reason)
                log.debug("model narrative failure", exc_info=True)
                return _offline(state, f"offline template used: {reason}")
            self.cache.put(
                key, "forecast", self.name, narrative.model_dump_json(), self.clock().isoformat()
            )
            return Narration(clean_narrative(narrative, self._hosts), self.name)

    def _write(self, state: MarketState, deadline: Deadline) -> ForecastNarrative:
        messages = self.messages(state)
        narrative, raw = self.client.structured(messages, ForecastNarrative, deadline)
        problems = problems_with(narrative, state, self._hosts)
        if not problems:
            return narrative
        log.info("model narrative needs repair: %s", "; ".join(p.text for p in problems))
        repair = load_prompt("repair_forecast.md").fill(
            problems="; ".join(p.text for p in problems),
            immediate_call=state.tomorrow.call,
            five_day_call=state.next_5_days.call,
        )
        messages += [
            {"role": "assistant", "content": raw or narrative.model_dump_json()},
            {"role": "user", "content": repair},
        ]
        narrative, _ = self.client.structured(messages, ForecastNarrative, deadline)
        problems = problems_with(narrative, state, self._hosts)
        if problems:
            # The offending text goes to the log only: a note must not repeat it.
            log.warning(
                "model narrative failed again after repair: %s",
                "; ".join(p.text for p in problems),
            )
            raise rejection(problems)
        return narrative


def _offline(state: MarketState, note: str) -> Narration:
    return OfflineNarrator(notes=(note,)).narrate(state)


def prompt_tokens(messages: Sequence[dict[str, str]]) -> int:
    """Estimated tokens of a prompt (see :func:`estimate_tokens`)."""
    return sum(estimate_tokens(m["content"]) for m in messages)
