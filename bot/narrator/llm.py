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
from typing import Any

import openai

import prompts
from bot.narrator.cache import ReplyCache, cache_key
from bot.narrator.client import Messages, ModelClient, describe_failure, estimate_tokens
from bot.narrator.deadline import Deadline
from bot.narrator.grounding import Problem, check_narrative, redact, repair_lines
from bot.narrator.models import ForecastNarrative, Narration
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
#: What a narrative quotes of a fired rule's record; p/q-values, medians, bootstrap
#: intervals and window dates stay in the state (and in `iwm-analyst audit`).
_FIRED_STATS = (
    "horizon", "n_fired", "n_episodes", "win_rate", "win_rate_ci", "mean_return",
    "base_win_rate", "base_mean_return", "verdict",
)  # fmt: skip
_PROVENANCE = ("series", "source", "last_date", "stale_days", "note")
#: Forecast fields a narrative does not quote (method details; the state keeps them).
_FORECAST_DROP = ("method", "base_n", "edge_se", "calibration_slope", "cell_n_eff")


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
        f = doc[horizon]
        for key in _FORECAST_DROP:
            f.pop(key, None)
        # each fired rule's record is in `rules`; here only whether it agrees with its label
        f["drivers"] = [
            {"rule": d["rule"], "record_vs_label": d["record_vs_label"]}
            for d in f.get("drivers", [])
        ]
        if "move" in f:
            f["move"] = {"sigma": f["move"]["sigma"], "bands": f["move"]["bands"]}
    doc["key_levels"] = [
        {k: v for k, v in level.items() if k in ("name", "price", "distance")}
        for level in doc.get("key_levels", [])
    ]
    return dict(_round(doc))


def forecast_messages(state: MarketState) -> Messages:
    """The system prompt and the user message (a short header, then the state) for one
    forecast. The header repeats the fired rules, the calls and the trend: a small model
    copies them more reliably from a line than from the JSON."""
    user = load_prompt("user_forecast.md").fill(
        ticker=state.ticker,
        as_of=state.as_of.isoformat(),
        fired=", ".join(r.name for r in state.fired_rules) or "none",
        call_1=state.tomorrow.call,
        call_5=state.next_5_days.call,
        flavour=state.next_5_days.flavour,
        trend=state.indicators.trend,
        state_json=json.dumps(compact_state(state), separators=(",", ":")),
    )
    system = load_prompt("system_forecast.md").body
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def state_hash(state: MarketState) -> str:
    return hashlib.sha256(state.model_dump_json().encode()).hexdigest()


def problems_with(
    narrative: ForecastNarrative, state: MarketState, allowed_hosts: Sequence[str] = ()
) -> list[Problem]:
    """Why a narrative cannot be shown: what it says that the state does not bear out
    (:func:`bot.narrator.grounding.check_narrative`), unsafe text, or fields too long."""
    problems = check_narrative(narrative, state)
    for name in PROSE_FIELDS:
        value = str(getattr(narrative, name))
        problems += [
            Problem("safety", value, name, p) for p in unsafe_content(value, allowed_hosts)
        ]
        limit = FIELD_LIMITS.get(name, PROSE_LIMIT)
        if len(value) > limit:
            problems.append(
                Problem(
                    "length", name, name, f"{name} has {len(value)} characters; at most {limit}"
                )
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
_CHECK_ORDER: tuple[str, ...] = ("safety", "call", "direction", "fired", "claim", "number")


def rejection(problems: Sequence[Problem]) -> ModelError:
    """The error for a reply that failed after repair; its text is safe to show."""
    checks = {p.check for p in problems}
    check = next((c for c in _CHECK_ORDER if c in checks), min(checks, default="content"))
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
        #: Called after each checked reply with ("first" | "repair" | "trimmed", narrative,
        #: problems); the narrator evaluation (bench/narrator_eval.py) records them.
        self.on_attempt: Callable[[str, ForecastNarrative, list[Problem]], None] | None = None

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
        return forecast_messages(state)

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
        self._report("first", narrative, problems)
        if not problems:
            return narrative
        log.info("model narrative needs repair: %s", "; ".join(p.detail for p in problems))
        messages += [
            {"role": "assistant", "content": raw or narrative.model_dump_json()},
            {"role": "user", "content": repair_message(problems, state)},
        ]
        first, first_problems = narrative, problems
        narrative, _ = self.client.structured(messages, ForecastNarrative, deadline)
        problems = problems_with(narrative, state, self._hosts)
        self._report("repair", narrative, problems)
        if problems:
            # Last resort: the model's own sentences that passed, if every field keeps one
            # (never for unsafe text, which no trimming makes trustworthy).
            for draft, found in ((narrative, problems), (first, first_problems)):
                if any(p.check == "safety" for p in found):
                    continue
                trimmed = redact(draft, found, state)
                if trimmed is not None and not problems_with(trimmed, state, self._hosts):
                    log.info("model narrative: %s failing sentence(s) removed", len(found))
                    self._report("trimmed", trimmed, [])
                    return trimmed
            # The offending text goes to the log only: a note must not repeat it.
            log.warning(
                "model narrative failed again after repair: %s",
                "; ".join(p.detail for p in problems),
            )
            raise rejection(problems)
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
