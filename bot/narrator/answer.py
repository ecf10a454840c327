"""Follow-up questions about the forecast, answered from the MarketState.

The question is only ever a user message, capped in length; the state travels as a
separate user message of context and the rules stay in the system prompt, so a question
cannot rewrite them. Requests for the prompt or keys and requests for personal advice
are answered by fixed replies without calling the model. Model answers go through the
same checks as forecasts: every number from the state, the engine's calls stated as the
engine gave them (:mod:`bot.narrator.calls`), no mentions, links or injected
instructions (:mod:`bot.narrator.safety`); one repair, then the deterministic answer.
The text shown is cleaned and capped at ``LLM_MAX_ANSWER_CHARS``; the whole exchange
ends by a deadline. Without a model (none configured, or its reply failed), questions
about levels and walls, an indicator's meaning, a rule or the calls still get exact
answers (:mod:`bot.narrator.intents`); others get a short list of what can be asked and
why no model answered.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import prompts
from bot.narrator.client import Messages, ModelClient, describe_failure, estimate_tokens
from bot.narrator.deadline import Deadline
from bot.narrator.grounding import Problem, check_text, repair_lines
from bot.narrator.intents import definition_answer, level_answer
from bot.narrator.llm import compact_state, load_prompt, rejection
from bot.narrator.safety import clean_text, unsafe_content
from bot.settings import Settings
from bot.views.fmt import num, pct, usd
from bot.views.report import record_text
from engine.errors import ModelError, UserInputError
from engine.rules import KNOWN_COLUMNS
from engine.state import MarketState, RuleState

log = logging.getLogger(__name__)

Turn = tuple[str, str]  # ("user" | "assistant", text)

_SECRETS = re.compile(
    r"(system prompt|your (instructions|prompt|rules)|ignore (all|your|previous)|api[ _-]?key|"
    r"secret|password|token|\.env|reveal)",
    re.IGNORECASE,
)
_ADVICE = re.compile(
    r"(should i (buy|sell|short|hold|go long|go all)|how much should i|my (portfolio|account|"
    r"savings|money|retirement)|guarantee|promise|sure thing|can't lose)",
    re.IGNORECASE,
)
_FORECAST = re.compile(
    r"\b(forecast|call|tomorrow|next (5|five) days|week|outlook|bullish|bearish)\b", re.I
)
_INDICATORS = re.compile(r"\b(rsi|vix|gex|gamma|dark ?pool|trend|indicators?|close|price)\b", re.I)


class RejectedAnswer(ModelError):
    """The model answered, but its reply failed the checks even after the repair."""


@dataclass(frozen=True)
class Answer:
    text: str
    source: str  # "offline", "model:<name>" or "policy"
    notes: tuple[str, ...] = ()


def _phrases() -> dict[str, Any]:
    return prompts.table("offline_answers.toml")


def check_question(question: str, limit: int) -> str:
    """The question stripped, or UserInputError when empty or too long."""
    text = " ".join(question.split())
    if not text:
        raise UserInputError("ask a question, e.g. 'why did GEX_Negative fire?'")
    if len(text) > limit:
        raise UserInputError(f"questions are limited to {limit} characters; yours has {len(text)}")
    return text


def bounded_history(history: Sequence[Turn], turns: int, max_tokens: int) -> list[Turn]:
    """The most recent ``turns`` exchanges that fit in ``max_tokens`` (oldest dropped)."""
    kept: list[Turn] = []
    budget = max_tokens
    for role, text in reversed(list(history)[-2 * turns :] if turns else []):
        cost = estimate_tokens(text)
        if cost > budget:
            break
        kept.append((role if role in ("user", "assistant") else "user", text))
        budget -= cost
    return list(reversed(kept))


def _words(text: str) -> set[str]:
    """Lower-case words of ``text``; CamelCase, snake_case and hyphens split apart."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").replace("-", " ")
    return set(re.findall(r"[a-z]+", spaced.lower()))


#: Words too common in questions to name a rule on their own: the indicator vocabulary
#: of the engine's columns and the words of direction and regime.
_GENERIC: frozenset[str] = frozenset(
    {w for col in KNOWN_COLUMNS for w in _words(col)}
    | {"and", "or", "the", "of", "bullish", "bearish", "positive", "negative", "above", "below"}
)


def find_rule(question: str, state: MarketState) -> RuleState | None:
    """The rule of ``state`` a question names (see :func:`find_rule_name`)."""
    name = find_rule_name(question, [(r.name, r.nickname) for r in state.rules])
    return next((r for r in state.rules if r.name == name), None)


def find_rule_name(question: str, rules: Sequence[tuple[str, str | None]]) -> str | None:
    """The rule a question names, from the playbook's own (name, nickname) pairs (no
    rule is hard-coded).

    In order: the exact rule name; its nickname; every word of its name; a word of its
    name or nickname that no other rule has and that is not everyday indicator or
    direction vocabulary (so "golden" finds Golden_Setup but "vix" finds nothing).
    """
    lowered = question.lower()
    q_words = _words(question)
    for name, _ in rules:
        if name.lower() in lowered:
            return name
    for name, nickname in rules:
        if nickname and _words(nickname) <= q_words:
            return name
    names = {n: _words(n) - {"and", "or", "the", "of"} for n, _ in rules}
    full = [n for n, _ in rules if names[n] and names[n] <= q_words]
    if full:
        return max(full, key=lambda n: len(names[n]))
    own: dict[str, set[str]] = {}
    for name, nickname in rules:
        mine = names[name] | (_words(nickname) if nickname else set())
        others = set().union(*(names[o] for o, _ in rules if o != name))
        own[name] = mine - others - _GENERIC
    hits = [n for n, _ in rules if own[n] & q_words]
    return hits[0] if len(hits) == 1 else None


def _checks_text(rule: RuleState) -> str:
    parts = []
    for c in rule.conditions:
        mark = {True: "yes", False: "no", None: "no data"}[c.passed]
        literal = c.right_value is None or c.right == f"{c.right_value:g}"
        right = c.right if literal else f"{c.right} = {num(c.right_value)}"
        parts.append(f"{c.left} = {num(c.left_value)} {c.op} {right} ({mark})")
    return "; ".join(parts)


def offline_answer(
    question: str, state: MarketState, *, model_failure: BaseException | None = None
) -> Answer:
    """The deterministic answer, tried in order: a rule named exactly; a level (call or
    put wall, gamma flip, key levels); a rule found by its words; one indicator's meaning
    and value; the calls; the indicators. Anything else gets what can be asked, and why
    no model answered (``model_failure``: the model's error, None when there is none).
    """
    p = _phrases()
    lowered = question.lower()
    rule = next((r for r in state.rules if r.name.lower() in lowered), None)
    if rule is None:
        level = level_answer(question, state)
        if level is not None:
            return Answer(level, "offline")
        rule = find_rule(question, state)
    if rule is None:
        meaning = definition_answer(question, state)
        if meaning is not None:
            return Answer(meaning, "offline")
    if rule is not None:
        conditions = " and ".join(c.text for c in rule.conditions)
        lines = [
            p["rule_meaning"].format(
                name=rule.name,
                tier=rule.tier,
                direction=rule.direction,
                signal=rule.signal,
                rationale=rule.rationale,
                conditions=conditions,
            )
        ]
        key = (
            "rule_fired"
            if rule.fired
            else ("rule_not_fired" if rule.available else "rule_unavailable")
        )
        line = p[key].format(as_of=state.as_of, checks=_checks_text(rule))
        if rule.last_fired and not rule.fired:
            line += p["rule_last"].format(date=rule.last_fired)
        lines.append(line)
        records = "; ".join(record_text(rule, h) for h in (1, 5))
        lines.append(p["rule_record"].format(records=records))
        return Answer(" ".join(lines), "offline")
    if _FORECAST.search(question):
        t, f = state.tomorrow, state.next_5_days
        names = ", ".join(f"`{d.rule}` (Tier {d.tier})" for d in f.drivers or t.drivers)
        drivers = p["drivers"].format(names=names) if names else p["no_drivers"]
        text = p["forecast"].format(
            call1=t.call,
            p1=pct(t.prob_up),
            b1=pct(t.base_rate),
            c1=t.confidence,
            flavour5=f.flavour,
            p5=pct(f.prob_up),
            b5=pct(f.base_rate),
            c5=f.confidence,
            drivers=drivers,
        )
        return Answer(text, "offline")
    if _INDICATORS.search(question):
        r, i = state.regime, state.indicators
        text = p["indicators"].format(
            close=num(state.latest.close),
            trend=i.trend,
            rsi=num(i.rsi14, 1),
            vix=num(r.vix.level),
            gex=usd(r.gex.value),
            gex_regime=r.gex.regime,
            dp=num(r.dark_pool.ratio),
        )
        return Answer(text, "offline")
    return Answer(unknown_text(state, model_failure), "offline")


def unknown_text(state: MarketState, model_failure: BaseException | None = None) -> str:
    """What can be asked without a model, then why no model answered this one."""
    p = _phrases()
    if model_failure is None:
        why = p["no_model"]
    else:
        key = "model_rejected" if isinstance(model_failure, RejectedAnswer) else "model_failed"
        why = p[key].format(reason=describe_failure(model_failure))
    return f"{p['can_ask'].format(as_of=state.as_of)}\n\n{why}"


def policy_answer(question: str) -> Answer | None:
    """A fixed reply for requests the assistant never fulfils, else None."""
    if _SECRETS.search(question):
        return Answer(_phrases()["refuse_secrets"], "policy")
    if _ADVICE.search(question):
        return Answer(_phrases()["refuse_advice"], "policy")
    return None


def answer(
    question: str,
    state: MarketState,
    history: Sequence[Turn],
    *,
    settings: Settings,
    client: ModelClient | None,
    deadline: Deadline | None = None,
) -> Answer:
    """Answer a follow-up; never raises except UserInputError for an unusable question."""
    text = check_question(question, settings.llm_max_question_chars)
    fixed = policy_answer(text)
    if fixed is not None:
        return fixed
    if client is None:
        return offline_answer(text, state)
    deadline = deadline or Deadline.after(settings.llm_deadline_seconds)
    try:
        return _model_answer(text, state, history, settings, client, deadline)
    except Exception as exc:  # a model must never break an answer
        reason = describe_failure(exc)
        log.warning("model answer failed: %s", reason)
        log.debug("model answer failure", exc_info=True)
        fallback = offline_answer(text, state, model_failure=exc)
        return Answer(fallback.text, "offline", (f"answered without the model: {reason}",))


def answer_problems(
    reply: str, state: MarketState, allowed_hosts: Sequence[str] = ()
) -> list[Problem]:
    """Why a model's answer cannot be shown (empty when it may), most serious first:
    unsafe text, then what it says that the state does not bear out (figures, dates,
    rules said to fire, calls, advice against the calls; :mod:`bot.narrator.grounding`)."""
    problems = [Problem("safety", reply, "", p) for p in unsafe_content(reply, allowed_hosts)]
    problems += check_text(reply, state)
    if not reply.strip():
        problems.append(Problem("content", "", "", "the answer was empty"))
    return problems


def _model_answer(
    question: str,
    state: MarketState,
    history: Sequence[Turn],
    settings: Settings,
    client: ModelClient,
    deadline: Deadline,
) -> Answer:
    context = load_prompt("user_answer.md").fill(
        ticker=state.ticker,
        as_of=state.as_of.isoformat(),
        state_json=json.dumps(compact_state(state), separators=(",", ":")),
    )
    messages: Messages = [
        {"role": "system", "content": load_prompt("system_answer.md").body},
        {"role": "user", "content": context},
    ]
    for role, text in bounded_history(
        history, settings.llm_history_turns, settings.llm_history_max_tokens
    ):
        if role == "assistant":
            messages.append({"role": "assistant", "content": text})
        else:
            messages.append({"role": "user", "content": text})
    messages.append({"role": "user", "content": question})
    hosts = settings.allowed_link_hosts
    reply = client.text(messages, deadline)
    problems = answer_problems(reply, state, hosts)
    if problems:
        log.info("model answer needs repair: %s", "; ".join(p.detail for p in problems))
        messages += [
            {"role": "assistant", "content": reply},
            {
                "role": "user",
                "content": load_prompt("repair_answer.md").fill(
                    problems=repair_lines(problems),
                    call1=state.tomorrow.call,
                    call5=state.next_5_days.call,
                ),
            },
        ]
        reply = client.text(messages, deadline)
        problems = answer_problems(reply, state, hosts)
        if problems:
            log.warning(
                "model answer failed again after repair: %s", "; ".join(p.detail for p in problems)
            )
            raise RejectedAnswer(str(rejection(problems)))
    shown = clean_text(reply, limit=settings.llm_max_answer_chars, allowed_hosts=hosts)
    return Answer(shown, f"model:{client.model}")
