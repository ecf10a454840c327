"""The grounding check by meaning: every figure matched to what the sentence says it is.

A narrator may only write figures the MarketState holds, and each must be the figure
the sentence claims it is. For every sentence:

* rules it names (or refers back to with "it" / "this rule") scope the figures: a
  rate in a sentence about ``RSI_Extreme`` must be RSI_Extreme's (or a base rate or a
  forecast figure), never another rule's;
* a horizon it names ("tomorrow", "over five days") scopes them to that horizon;
* the clause's cue words give the figure's kind: a percentage near "win rate" or "of
  the time" is a probability, near "average" or "return" a return, ``n=K`` or "K
  episodes" a sample size, a number near "RSI" an RSI value; "base rate" / "all days"
  asks for a base-rate figure;
* the playbook's claimed figures only match in a clause that says they are the
  playbook's claim, so a claim is never passed off as a measurement;
* a rule condition's threshold (RSI 30, VIX 20) only matches where the sentence speaks
  of that indicator's threshold or line;
* dates, written as ISO, US or in words ("June 16, 2022"), must be dates of the state.

Statements are checked too (:mod:`bot.narrator.statements`): rules said to fire,
verdict words, regime words, call and confidence words, and the strategy's direction.
Each problem quotes the sentence and says what the state holds instead, so a repair
request can be specific.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.narrator.facts import MARKET, Fact, Facts, Kind, facts_of
from bot.narrator.models import ForecastNarrative
from bot.narrator.readings import (
    APPROX,
    HORIZON_WORDS,
    INTERVAL,
    clause,
    reading_of,
    structural,
)
from bot.narrator.sentences import (
    Figure,
    WrittenDate,
    clean,
    expand_ranges,
    find_dates,
    find_figures,
    mark_rules,
    split_raw,
    split_sentences,
)
from bot.views.fmt import num, pct, signed_pct, usd
from engine.state import MarketState
from engine.stats import MIN_EPISODES


@dataclass(frozen=True)
class Problem:
    """Why a sentence cannot be shown: which check failed, the sentence, and the fix."""

    check: str  # number, claim, date, fired, verdict, regime, call, confidence, direction, ...
    sentence: str
    token: str
    detail: str  # what is wrong, in words
    instead: str = ""  # what the state holds instead


# --- cue words ----------------------------------------------------------------------------
_FORECAST_WORDS = re.compile(
    r"p\(up\)|forecast|probabilit|\bcall\b|odds|engine|combined|"
    r"weighting|overall|the model|base rate|\bedge\b",
    re.I,
)
_RULE_RATE_AFTER = re.compile(r"\s*(?:win(?:ning)?[- ]rate|hit rate|success rate)\b", re.I)
_BACKREF = re.compile(r"\b(it|its|this rule|this signal|the rule|the signal|that signal)\b", re.I)


def _tolerance(f: Figure, text: str) -> float:
    tol = 0.5 * 10.0**-f.decimals + 1e-9
    if APPROX.search(text[: f.start]):
        tol = 1.0 * 10.0**-f.decimals + 1e-9
    return tol


def _fits(fact: Fact, f: Figure, tol: float) -> bool:
    value = fact.value
    written = f.scaled
    fractional = fact.kind in (Kind.PROB, Kind.RETURN, Kind.VOL, Kind.CLAIM)
    candidates = []
    if fractional:
        if f.unit in ("%", "pp"):
            candidates.append(value * 100.0)
        elif f.unit == "" and abs(written) <= 1.0 and f.decimals > 0:
            candidates.append(value)
        elif f.unit == "":
            candidates.append(value * 100.0)
    elif fact.kind == Kind.GEX and f.unit in ("B", "M", "K", "T", "$"):
        candidates.append(value)
    else:
        candidates.append(value)
    for c in candidates:
        # the prompt gives figures to six significant digits; a copy of one is exact
        allowed = max(_scaled_tol(f, tol), 5e-6 * abs(c))
        if f.signed:
            if abs(c - written) <= allowed:
                return True
        elif abs(abs(c) - abs(written)) <= allowed:
            return True
    return False


def _scaled_tol(f: Figure, tol: float) -> float:
    return tol * {"B": 1e9, "M": 1e6, "K": 1e3, "T": 1e12}.get(f.unit, 1.0)


@dataclass(frozen=True)
class _Scope:
    entities: frozenset[str] | None  # None: any entity
    horizon: int | None


def _scope(sentence: str, rules: list[str], state: MarketState) -> _Scope:
    horizons = [h for h, pattern in HORIZON_WORDS.items() if pattern.search(sentence)]
    horizon = horizons[0] if len(horizons) == 1 else None
    if not rules:
        return _Scope(None, horizon)
    entities = {MARKET, *rules}
    if _FORECAST_WORDS.search(sentence):
        entities.add("forecast")
    return _Scope(frozenset(entities), horizon)


def _in_scope(fact: Fact, scope: _Scope, base: bool | None) -> bool:
    if base is not None and base != fact.base:
        return False
    if scope.horizon is not None and fact.horizon not in (None, scope.horizon):
        return False
    if scope.entities is None or fact.base:
        return True
    return fact.entity in scope.entities


def _describe(fact: Fact) -> str:
    if fact.kind in (Kind.PROB, Kind.CLAIM) and abs(fact.value) <= 1.5:
        shown = pct(fact.value, 1)
    elif fact.kind in (Kind.RETURN, Kind.VOL):
        shown = signed_pct(fact.value) if fact.kind == Kind.RETURN else pct(fact.value, 1)
    elif fact.kind == Kind.GEX:
        shown = usd(fact.value)
    elif fact.kind == Kind.COUNT:
        shown = f"{fact.value:,.0f}"
    else:
        shown = num(fact.value)
    return f"{fact.label} {shown}"


def _paired(f: Figure, text: str) -> bool:
    """A figure written as one end of a range ('23-52%', '23% to 52%')."""
    return bool(re.match(r"^\s+\d", text[f.end :]) and f.unit == "%") or bool(
        re.search(r"\d%\s+$", text[: f.start])
    )


def _check_figure(
    f: Figure, text: str, sentence: str, facts: Facts, scope: _Scope
) -> Problem | Fact | None:
    """The problem with figure ``f``, or the fact it was matched to (None: not a figure)."""
    if structural(f, text):
        return None
    reading = reading_of(f, text, named_rule=scope.entities is not None)
    kinds = reading.kinds
    tol = _tolerance(f, text)
    lo, hi = clause(text, f.start, f.end)
    bounds = bool(INTERVAL.search(text[lo:hi])) or _paired(f, text)
    pool = [
        x
        for x in facts.items
        if x.kind in kinds and _in_scope(x, scope, reading.base) and (bounds or not x.interval)
    ]
    if reading.topic is not None:
        pool = [x for x in pool if x.topic is None or x.topic == reading.topic]
    if scope.entities is not None and _RULE_RATE_AFTER.match(text[f.end :]):
        # "Golden_Setup, which has a 54.72% win rate": the named rule's own record, not
        # the forecast's P(up) that another part of the sentence brought into scope
        pool = [x for x in pool if x.entity not in ("forecast", MARKET) and not x.base]
    if reading.p_up:
        pool = [x for x in pool if "P(up)" in x.label]
    matched = next((x for x in pool if _fits(x, f, tol)), None)
    if matched is not None:
        return matched
    anywhere = [x for x in facts.items if _fits(x, f, tol)]
    instead = "; ".join(dict.fromkeys(_describe(x) for x in pool[:3]))
    claims = [x for x in anywhere if x.kind == Kind.CLAIM]
    if claims and Kind.CLAIM not in kinds:
        detail = (
            f"{f.text} is the playbook's claim ({claims[0].label}), not a measurement; "
            "quote it only as 'the playbook claims ...'"
        )
        return Problem("claim", sentence, f.text, detail, instead)
    others = [x for x in anywhere if x.kind in kinds and x.entity not in (scope.entities or ())]
    if others and scope.entities is not None:
        detail = f"{f.text} belongs to {others[0].label}, not to what this sentence is about"
        return Problem("number", sentence, f.text, detail, instead)
    wrong_kind = [x for x in anywhere if x.kind not in kinds]
    if wrong_kind:
        what = ", ".join(sorted(k.value for k in kinds)) or "figure"
        detail = f"{f.text} is {wrong_kind[0].label}, not the {what} this sentence says it is"
        return Problem("number", sentence, f.text, detail, instead)
    what = ", ".join(sorted(k.value for k in kinds))
    detail = f"{f.text} is not a {what} of the state" + (
        " at this horizon" if scope.horizon else ""
    )
    return Problem("number", sentence, f.text, detail, instead)


_NEXT = re.compile(
    r"tomorrow|next (?:trading )?(?:day|session)|session after|following session", re.I
)


_AS_OF = re.compile(
    r"(?:as of|as at|data (?:run|runs|end|ends) (?:to|on)|today,?|on the day)\s*$", re.I
)
_LAST_FIRED = re.compile(r"last (?:fired|triggered)(?: on)?\s*$", re.I)


def _check_date(d: WrittenDate, sentence: str, facts: Facts, state: MarketState) -> Problem | None:
    days = facts.dates
    before = sentence[: sentence.find(d.text)] if d.text in sentence else ""
    if d.date is not None and _AS_OF.search(before):
        days = frozenset({state.as_of})
    elif d.date is not None and _LAST_FIRED.search(before):
        days = frozenset(r.last_fired for r in state.rules if r.last_fired is not None)
    if d.date is not None:
        if d.date in days:
            return None
        ahead = (d.date - state.as_of).days
        if 0 < ahead <= 5 and _NEXT.search(sentence):
            return None
    elif d.month is not None and d.day is not None:
        if any(x.month == d.month and x.day == d.day for x in days):
            return None
    elif d.year is not None:
        first = min(days).year
        if first <= d.year <= state.as_of.year:
            return None
    return Problem(
        "date",
        sentence,
        d.text,
        f"{d.text} is not a date of the state",
        f"the data runs to {state.as_of.isoformat()}; write dates as YYYY-MM-DD, and only "
        "dates the state holds",
    )


def _unsized_rates(
    sentence: str, matched: list[tuple[Figure, Fact]], state: MarketState
) -> list[Problem]:
    """A rule's measured win rate from too few cases, written without its sample size.

    "100% win rate over 5 days" read off one independent episode is a true figure and a
    false impression. The prompt asks for "(n=K)" beside every measured rate; the check
    holds the text to it where the record is below the engine's "too few cases" gate
    (:data:`engine.stats.MIN_EPISODES`), where a bare rate misleads. Any sample size of
    the state in the sentence counts: the
    figures are already held to the rules the sentence names, and a sentence giving both
    horizons' records puts each size after its own rate.
    """
    if any(x.kind == Kind.COUNT for _, x in matched):
        return []
    problems = []
    for f, x in matched:
        if x.kind != Kind.PROB or x.base or x.interval or not x.label.endswith("win rate"):
            continue
        rule = state.rule(x.entity)
        horizon = x.horizon or 0
        stats = rule.stats_at(horizon) if rule is not None else None
        if stats is None or stats.sample_size >= MIN_EPISODES:
            continue
        size = f"{stats.n_fired} fires"
        if horizon > 1:
            size += f", {stats.n_episodes} independent episodes"
        problems.append(
            Problem(
                "sample",
                sentence,
                f.text,
                f"{f.text} is {x.label} but the sentence gives no sample size",
                f"{x.label} {f.text} over {size}; write it as {f.text} (n={stats.n_fired})",
            )
        )
    return problems


def check_text(text: str, state: MarketState) -> list[Problem]:
    """Every figure, date and statement of ``text`` that the state does not bear out."""
    from bot.narrator.statements import check_statements

    facts = facts_of(state)
    problems: list[Problem] = []
    previous: list[str] = []
    for sentence in split_sentences(text):
        marked, indices = mark_rules(sentence, state)
        rules = [state.rules[i].name for i in indices]
        if not rules and _BACKREF.search(marked) and previous:
            rules = previous
        scope = _scope(marked, rules, state)
        blanked, dates = find_dates(expand_ranges(marked))
        for d in dates:
            wrong_date = _check_date(d, sentence, facts, state)
            if wrong_date is not None:
                problems.append(wrong_date)
        matched: list[tuple[Figure, Fact]] = []
        for f in find_figures(blanked):
            found = _check_figure(f, blanked, sentence, facts, scope)
            if isinstance(found, Problem):
                problems.append(found)
            elif found is not None:
                matched.append((f, found))
        problems.extend(_unsized_rates(sentence, matched, state))
        problems.extend(check_statements(sentence, marked, rules, state))
        previous = rules or previous
    return problems


def check_narrative(narrative: ForecastNarrative, state: MarketState) -> list[Problem]:
    """Everything wrong with a forecast narrative: fields, prose and strategy direction.

    The calls and the 5-day flavour must equal the engine's; every rule in
    ``fired_rules_mentioned`` must have fired; the prose passes :func:`check_text`; the
    strategy's actions must not run against the engine's calls.
    """
    from bot.narrator.statements import direction_problems

    problems: list[Problem] = []
    expected = (
        ("immediate_call", narrative.immediate_call, state.tomorrow.call),
        ("five_day_call", narrative.five_day_call, state.next_5_days.call),
        ("five_day_flavour", narrative.five_day_flavour.strip(), state.next_5_days.flavour),
    )
    for field, got, want in expected:
        if got != want:
            problems.append(
                Problem("call", field, got, f"{field} must be exactly {want!r}, not {got!r}")
            )
    fired = ", ".join(r.name for r in state.fired_rules) or "none"
    for name in narrative.fired_rules_mentioned:
        rule = state.rule(name)
        if rule is None or not rule.fired:
            problems.append(
                Problem(
                    "fired",
                    "fired_rules_mentioned",
                    name,
                    f"{name} is not a rule that fired on {state.as_of}",
                    f"the rules that fired: {fired}",
                )
            )
    for text in (narrative.immediate_assessment, narrative.five_day_rationale):
        problems.extend(check_text(text, state))
    for text in (narrative.strategy_title, narrative.strategy):
        problems.extend(check_text(text, state))
        for sentence in split_sentences(text):
            marked, _ = mark_rules(sentence, state)
            problems.extend(direction_problems(marked, state, sentence))
    return list(dict.fromkeys(problems))


_PROSE = ("immediate_assessment", "five_day_rationale", "strategy_title", "strategy")


def redact(
    narrative: ForecastNarrative, problems: Iterable[Problem], state: MarketState
) -> ForecastNarrative | None:
    """``narrative`` without the sentences that failed, and with the engine's calls.

    The calls, the flavour and the list of fired rules are set from the engine (they are
    the engine's anyway); each prose field keeps the sentences that passed. None when a
    field would be left empty: then there is not enough checked text to show.
    """
    bad = {p.sentence for p in problems}
    fields: dict[str, object] = {
        "immediate_call": state.tomorrow.call,
        "five_day_call": state.next_5_days.call,
        "five_day_flavour": state.next_5_days.flavour,
        "fired_rules_mentioned": tuple(
            n for n in narrative.fired_rules_mentioned if (r := state.rule(n)) and r.fired
        ),
    }
    for name in _PROSE:
        kept = [s.strip() for s in split_raw(getattr(narrative, name)) if clean(s) not in bad]
        if not kept:
            return None
        fields[name] = " ".join(kept)
    return narrative.model_copy(update=fields)


def ungrounded_numbers(text: str, state: MarketState) -> list[str]:
    """The figures and dates of ``text`` the state does not bear out (tokens only)."""
    return [p.token for p in check_text(text, state) if p.check in ("number", "claim", "date")]


def repair_lines(problems: Iterable[Problem]) -> str:
    """One line per problem: the sentence quoted, what is wrong, what the state holds."""
    lines = []
    for p in problems:
        line = f'- "{p.sentence[:300]}": {p.detail}.'
        if p.instead:
            line += f" The state holds: {p.instead}."
        lines.append(line)
    return "\n".join(dict.fromkeys(lines))
