"""Statements a narrative makes in words, checked against the state.

Each check reads one sentence whose rule names are already placeholders (``⟦i⟧``, see
:func:`bot.narrator.sentences.mark_rules`) and returns problems:

* **fired**: a rule said to fire (or be active) today must have fired, and a rule said
  not to fire must not have; "last fired", "after it fired" and other talk of the past
  are not claims about today;
* **verdict**: "the claim holds / is supported" or "does not hold / is contradicted /
  falls short" about a rule must match the audit's verdict;
* **regime**: GEX positive or negative (or flipped), VIX high or below its threshold,
  RSI overbought or oversold, the trend, and "X is above/below Y" comparisons;
* **call**: statements of the forecast and recommended trades, read by
  :mod:`bot.narrator.calls`; **confidence**: "high confidence" must be the engine's;
* **direction** (strategies only, :func:`direction_problems`): an action (buy, add, go
  long / sell, trim, hedge, short) must not run against the engine's calls; a negated
  action ("avoid buying") is not an action.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bot.narrator.calls import call_problems
from bot.narrator.grounding import Problem
from bot.narrator.readings import HORIZON_WORDS
from bot.views.fmt import num, usd
from engine.state import MarketState, RuleState

_CLAUSES = re.compile(
    r";|:\s|,\s*(?:but|while|whereas|although|and)\b|\bbut\b|\bwhile\b|"
    r"\bwhereas\b",
    re.I,
)
_PAST = re.compile(
    r"last fired|last triggered|after (?:it|they|each) (?:fired|triggered)|when (?:it|they|\S+ )?"
    r"(?:fired|fires|triggered)|each time|every time|times? (?:it|they)? ?(?:fired|triggered)|"
    r"days? (?:it|they)? ?(?:fired|triggered)|had fired|historically|in the past|previously|"
    r"fired on|since it|whenever|after firing|past fires|the fires",
    re.I,
)
_NOT_FIRED = re.compile(
    r"\b(?:is not|isn't|are not|aren't|was not|wasn't|not)\s+(?:currently\s+)?(?:active|firing|"
    r"on|triggered|true|live|in play)\b|\b(?:did not|didn't|does not|doesn't|do not|don't|has not|"
    r"hasn't|have not|haven't|never)\s+(?:fire|fired|trigger|triggered)\b|\binactive\b|"
    r"\b(?:cannot|can't|can not|could not|couldn't|won't|will not|unable to)\s+(?:fire|"
    r"trigger)\b|"
    r"\bnot firing\b|\b(?:is|are)\s+(?:off|quiet|false)\b|\bno longer\b|\bfails? to fire\b",
    re.I,
)
_FIRED = re.compile(
    r"\b(?:is|are)\s+(?:currently\s+|now\s+)?(?:active|firing|on|triggered|true|live|in play|"
    r"flashing|lit)\b|\b(?:fires|fired|triggers|triggered|has fired|have fired|has triggered|"
    r"is firing|are firing|lit up)\b|\(true\)|\bactive\b|\bin effect\b",
    re.I,
)


def _clauses(marked: str) -> list[str]:
    return [c for c in _CLAUSES.split(marked) if c.strip()]


def _rules_in(clause: str, state: MarketState) -> list[RuleState]:
    return [state.rules[int(i)] for i in re.findall(r"⟦(\d+)⟧", clause)]


def _fired(sentence: str, marked: str, state: MarketState) -> list[Problem]:
    out = []
    for clause in _clauses(marked):
        rules = _rules_in(clause, state)
        if not rules or _PAST.search(clause):
            continue
        negative = bool(_NOT_FIRED.search(clause))
        positive = not negative and bool(_FIRED.search(clause))
        if not (negative or positive):
            continue
        fired = ", ".join(r.name for r in state.fired_rules) or "none"
        for rule in rules:
            if positive and not rule.fired:
                out.append(
                    Problem(
                        "fired",
                        sentence,
                        rule.name,
                        f"{rule.name} did not fire on {state.as_of}",
                        f"the rules that fired: {fired}",
                    )
                )
            elif negative and rule.fired:
                out.append(
                    Problem(
                        "fired",
                        sentence,
                        rule.name,
                        f"{rule.name} did fire on {state.as_of}",
                        f"the rules that fired: {fired}",
                    )
                )
    return out


_HOLDS = re.compile(
    r"\b(?:claim|record|figure|it|this)?\s*(?:holds|held up|is supported|are supported|"
    r"supports the claim|is confirmed|is validated|is borne out|stands up|lives up|checks out)\b",
    re.I,
)
_FAILS = re.compile(
    r"does not hold|doesn't hold|do not hold|don't hold|not hold|contradict|falls? (?:well )?short|"
    r"fails? to (?:hold|match|live)|not supported|isn't supported|refuted|disproved|overstat|"
    r"does not live up|doesn't live up|not borne out|is wrong|doesn't check out",
    re.I,
)
_FLAT = re.compile(
    r"not distinguishable|indistinguishable|no different from|in line with the base", re.I
)


def _verdicts(rule: RuleState) -> set[str]:
    return {s.verdict for s in rule.stats if s.verdict not in (None, "no claim")}


def _verdict(sentence: str, marked: str, rules: list[str], state: MarketState) -> list[Problem]:
    out = []
    for clause in _clauses(marked):
        named = _rules_in(clause, state) or [r for r in state.rules if r.name in rules]
        if not named:
            continue
        said = None
        if _FAILS.search(clause):
            said = "contradicted"
        elif _FLAT.search(clause):
            said = "not distinguishable from base rate"
        elif _HOLDS.search(clause) and not re.search(r"\bnot\b|n't\b", clause):
            said = "supported"
        if said is None:
            continue
        for rule in named:
            actual = _verdicts(rule)
            if not actual or said in actual:
                continue
            if said == "not distinguishable from base rate" and "supported" not in actual:
                continue  # "no better than an ordinary day" is true of a refuted claim too
            out.append(
                Problem(
                    "verdict",
                    sentence,
                    rule.name,
                    f"the audit's verdict on {rule.name} is "
                    f"'{' / '.join(sorted(actual))}', not '{said}'",
                )
            )
    return out


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - 30) : start].lower()
    return bool(re.search(r"\b(?:not|no|never|isn't|aren't|wasn't|n't)\s+(?:\w+\s+)?$", before))


def _regime(sentence: str, marked: str, state: MarketState) -> list[Problem]:
    out: list[Problem] = []
    low = marked.lower()
    g, v, ind = state.regime.gex, state.regime.vix, state.indicators
    gex_sign = re.compile(
        r"(?:\bgex\b|gamma(?: exposure)?|dealer gamma)(?:\s+(?:sign|regime|reading|level))?"
        r"\s+(?:is|was|remains|stays|has been|"
        r"sits|turned|flipped|is now|went)?\s*(?:still\s+)?(negative|positive|neutral|flat)|"
        # the adjective form only about today ("today's negative gamma", "positive gamma
        # now"); "negative dealer gamma means wider ranges" explains a rule, not the day
        r"(?:today's|current|currently|the present)\s+(negative|positive)\s+"
        r"(?:gex|gamma|dealer gamma)|"
        r"\b(negative|positive)\s+(?:gex|gamma|dealer gamma)(?=[^.;]*\b(?:today|now|currently|"
        r"tomorrow|this week|next (?:5|five) (?:days|sessions)))|"
        r"dealers are (short|long) gamma"
    )
    for m in gex_sign.finditer(low):
        if _negated(low, m.start()):
            continue
        word = (
            m.group(1)
            or m.group(2)
            or m.group(3)
            or ("negative" if m.group(4) == "short" else "positive")
        )
        if g.regime != word:
            shown = usd(g.value) if g.value is not None else "no GEX data"
            out.append(
                Problem(
                    "regime",
                    sentence,
                    m.group(0),
                    f"GEX is {g.regime}, not {word}",
                    f"net GEX {shown}",
                )
            )
    flip = re.search(
        r"(?:\bgex\b|gamma)\s+(?:has\s+)?(?:flipped|turned)\s+(?:to\s+)?"
        r"(positive|negative)",
        low,
    )
    if flip and not _negated(low, flip.start()):
        happened = g.flipped_positive if flip.group(1) == "positive" else g.flipped_negative
        if not happened:
            out.append(
                Problem(
                    "regime",
                    sentence,
                    flip.group(0),
                    f"GEX did not turn {flip.group(1)} on {state.as_of}",
                )
            )
    if v.level is not None:
        high = re.search(
            r"\bvix\b\s+(?:is\s+|was\s+|remains\s+|stays\s+)?(?:\w+\s+)?"
            r"(high|elevated|above (?:its|the) (?:high[- ]vix |stress )?threshold|"
            r"in (?:the|a) high|low|calm|subdued|below (?:its|the) "
            r"(?:high[- ]vix |stress )?threshold)",
            low,
        )
        if high and not _negated(low, high.start()):
            says_high = high.group(1).startswith(("high", "elevated", "above", "in "))
            if says_high != (v.regime == "high"):
                out.append(
                    Problem(
                        "regime",
                        sentence,
                        high.group(0),
                        f"VIX {num(v.level)} is {v.regime} against the "
                        f"{num(v.high_threshold, 0)} threshold",
                    )
                )
    trend = re.search(
        r"\b(uptrend|downtrend|sideways|range-bound|trendless|trending "
        r"(?:up|down|higher|lower)|no (?:clear |obvious |strong |real |definite )?"
        r"trend|(?:bullish|upward|bearish|downward) trend)\b",
        low,
    )
    flat = _FLAT_MARKET.search(low)
    if trend is None and flat is not None and not _FORECAST_TALK.search(low):
        trend = flat  # "the market is neutral, with no clear direction": a sideways market
    if trend and (trend.group(1).startswith("no ") or not _negated(low, trend.start())):
        word = trend.group(1)
        ups = ("uptrend", "trending up", "trending higher", "bullish trend", "upward trend")
        downs = ("downtrend", "trending down", "trending lower", "bearish trend", "downward trend")
        said = "Uptrend" if word in ups else "Downtrend" if word in downs else "Sideways"
        if said != ind.trend:
            out.append(
                Problem(
                    "regime",
                    sentence,
                    word,
                    f"the trend is {ind.trend}, not {said}",
                    ind.trend_basis,
                )
            )
    out.extend(_rsi_zone(sentence, low, state))
    out.extend(_comparisons(sentence, low, state))
    return out


#: The market itself said to be going nowhere: a trend statement (Sideways), unless the
#: sentence is about the forecast ("the call is Neutral with no clear direction").
_FLAT_MARKET = re.compile(
    r"\b((?:the )?(?:market|iwm|price|small caps)\s+(?:is|are|remains|stays|shows|has)\s+"
    r"(?:currently\s+|now\s+|still\s+)?(?:neutral|directionless|flat|"
    r"no (?:clear |obvious )?direction)|"
    r"(?:the )?(?:market|iwm|price|small caps)\b[^.;]{0,40}?\bno (?:clear |obvious )?direction)\b"
)
_FORECAST_TALK = re.compile(
    r"\b(call|forecast|outlook|lean|engine|tomorrow|p\(up\)|probabilit|odds|chance|signal)"
)


def _rsi_zone(sentence: str, low: str, state: MarketState) -> list[Problem]:
    rsi, prm = state.indicators.rsi14, state.params
    if rsi is None:
        return []
    out = []
    for m in re.finditer(
        r"\b(extreme(?:ly)? overbought|overbought|extreme(?:ly)? oversold|"
        r"oversold)\b",
        low,
    ):
        if _negated(low, m.start()):
            continue
        word = m.group(1)
        ok = {
            "overbought": rsi >= prm.rsi_overbought,
            "oversold": rsi <= prm.rsi_oversold,
        }.get(word, rsi > prm.rsi_extreme if "overbought" in word else rsi <= prm.rsi_extreme_low)
        if not ok:
            out.append(Problem("regime", sentence, word, f"RSI(14) {num(rsi, 1)} is not {word}"))
    return out


def _references(state: MarketState, subject: str) -> dict[str, float | None]:
    ind, v, g, dp = state.indicators, state.regime.vix, state.regime.gex, state.regime.dark_pool
    refs: dict[str, float | None] = {
        "sma20": ind.sma20,
        "20-day (?:simple |exponential )?(?:moving )?average": ind.sma20,
        "sma50": ind.sma50,
        "50-day (?:simple |exponential )?(?:moving )?average": ind.sma50,
        "sma200": ind.sma200,
        "200-day (?:simple |exponential )?(?:moving )?average": ind.sma200,
        "upper (?:bollinger )?band": ind.bb_upper,
        "lower (?:bollinger )?band": ind.bb_lower,
        "(?:zero-gamma )?flip(?: level)?": g.flip_level,
        "call wall": g.call_wall,
        "put wall": g.put_wall,
        "zero": 0.0,
    }
    move = state.tomorrow.move
    for band in move.bands if move is not None else ():
        level = f"{band.level * 100:.0f}%"
        refs[rf"(?:tomorrow's )?{level} (?:range )?(?:high|upper)"] = band.price_high
        refs[rf"(?:tomorrow's )?{level} (?:range )?(?:low|lower)"] = band.price_low
    if subject == "vix":
        refs |= {
            "(?:its )?10-day (?:mean|average)": v.mean_10d,
            "(?:the |its )?threshold": v.high_threshold,
        }
    if subject == "dark pool ratio":
        refs |= {"(?:the |its )?threshold": dp.threshold}
    return refs


_SPAN = re.compile(
    r"(?:next|past|last|coming|following|prior|previous)\b|"
    r"(?:\d+|one|two|three|four|five|ten|twenty)[- ](?:trading[- ])?"
    r"(?:days?|sessions?|weeks?|months?|years?)\b"
)


def _comparisons(sentence: str, low: str, state: MarketState) -> list[Problem]:
    ind, v, dp, g = state.indicators, state.regime.vix, state.regime.dark_pool, state.regime.gex
    subjects: dict[str, float | None] = {
        "rsi": ind.rsi14,
        "vix": v.level,
        "dark pool ratio": dp.ratio,
        "gex": g.value,
        "(?:iwm|the close|close|price|iwm's close)": state.latest.close,
    }
    out = []
    for subject, value in subjects.items():
        if value is None:
            continue
        # "RSI is at 80.85, which is below the extreme threshold of 75.0": the subject, up
        # to 50 characters (decimals and a ", which is" allowed), the comparison, a target
        pattern = re.compile(
            rf"\b{subject}\b(?:[^.;]|\.\d){{0,50}}?\b(above|below|over|under|higher than|"
            r"lower than|exceeds|beneath)\s+(?:the\s+|its\s+|a\s+)?((?:[^.;]|\.\d){2,45})"
        )
        for m in pattern.finditer(low):
            if _negated(low, m.start(2) - len(m.group(1)) - 1):
                continue
            if m.group(1) == "over" and _SPAN.match(m.group(2)):
                continue  # "IWM over the next five days": a time span, not a level
            target = _target(m.group(2), state, subject)
            if target is None:
                continue
            above = m.group(1) in ("above", "over", "higher than", "exceeds")
            if (value > target) != above and value != target:
                out.append(
                    Problem(
                        "regime",
                        sentence,
                        m.group(0),
                        f"{'the close' if subject.startswith('(') else subject} is {num(value)}, "
                        f"{'below' if above else 'above'} {num(target)}",
                    )
                )
    return out


def _target(text: str, state: MarketState, subject: str) -> float | None:
    """What a comparison compares with: a named level, or the first number written."""
    text = text.strip()
    for pattern, value in _references(state, subject).items():
        if re.match(pattern, text):
            return value
    # "the extreme threshold of 75.0", "its 50-day average of 285.19", "20"
    number = re.search(r"(?<![\w.-])(\d[\d,]*(?:\.\d+)?)(?![\w-])", text)
    if number is None or re.search(r"\d-day|sma\d", text[: number.start()]):
        return None if number is None else _named_number(text, number, state, subject)
    return float(number.group(1).replace(",", ""))


def _named_number(text: str, number: re.Match[str], state: MarketState, subject: str) -> float:
    """A number after a named level ("the 50-day average of 285.19") is that level's."""
    return float(number.group(1).replace(",", ""))


_CONFIDENCE = re.compile(r"\b(high|medium|low)\s+confidence\b", re.I)


def _horizon_calls(sentence: str, state: MarketState) -> Sequence[tuple[str, str]]:
    both: list[tuple[str, str]] = [
        (state.tomorrow.call, state.tomorrow.confidence),
        (state.next_5_days.call, state.next_5_days.confidence),
    ]
    one = HORIZON_WORDS[1].search(sentence) is not None
    five = HORIZON_WORDS[5].search(sentence) is not None
    if one and not five:
        return both[:1]
    if five and not one:
        return both[1:]
    return both


def _confidence(sentence: str, marked: str, state: MarketState) -> list[Problem]:
    out = []
    options = _horizon_calls(marked, state)
    for m in _CONFIDENCE.finditer(marked):
        said = m.group(1).lower()
        if all(said != conf for _, conf in options):
            confs = " / ".join(c for _, c in options)
            out.append(
                Problem(
                    "confidence",
                    sentence,
                    m.group(0),
                    f"the engine's confidence is {confs}, not {said}",
                )
            )
    return out


def _calls(sentence: str, state: MarketState) -> list[Problem]:
    """The engine's calls as free text states them (:mod:`bot.narrator.calls`)."""
    return [Problem("call", sentence, "", detail) for detail in call_problems(sentence, state)]


_LONG = re.compile(
    r"\b(buy(?:ing)?|go(?:ing)? long|get(?:ting)? long|stay(?:ing)? long|"
    r"add(?:ing)? to (?:longs|long positions|exposure)|"
    r"add(?:ing)? (?:exposure|longs|positions?)|accumulat\w*|load(?:ing)? up|"
    r"hold(?:ing)? (?:or add to )?longs|"
    r"ride the (?:momentum|trend|squeeze)|buy the dip)\b",
    re.I,
)
_SHORT = re.compile(
    r"\b(sell(?:ing)?|(?<!falls )(?<!fall )(?<!fell )short(?:ing)?(?![- ](?:term|"
    r"covering|squeeze|interest|volume|sellers|positions|of))|go(?:ing)? short|"
    r"trim(?:ming)?|hedg\w*|"
    r"reduc\w* (?:longs|exposure|risk|positions?)|take profits?|lighten\w*|"
    r"de-risk\w*|buy(?:ing)? puts)\b",
    re.I,
)
_LEAN = re.compile(r"\b(bullish|bearish|defensive|defen[cs]e)\b", re.I)
_NEGATION = re.compile(
    r"\b(avoid|don't|do not|not|no|never|without|rather than|instead of|"
    r"stop|refrain from|before|until|unless)\b[^.;,]{0,25}$",
    re.I,
)


def direction_problems(marked: str, state: MarketState, sentence: str) -> list[Problem]:
    """Actions in a strategy sentence that run against both of the engine's calls.

    Every action word counts here, and so do "bullish" / "defensive" (prose elsewhere is
    read by :mod:`bot.narrator.calls`, which counts only recommended trades).
    """
    calls = {state.tomorrow.call, state.next_5_days.call}
    shown = " / ".join(sorted(calls))
    out = []
    for pattern, side in ((_LONG, "Bullish"), (_SHORT, "Bearish"), (_LEAN, None)):
        for m in pattern.finditer(marked):
            if _NEGATION.search(marked[: m.start()]):
                continue
            word = m.group(0).lower()
            lean = side or ("Bullish" if word == "bullish" else "Bearish")
            if lean not in calls:
                detail = f"'{m.group(0)}' leans {lean.lower()} while the engine's calls are {shown}"
                out.append(Problem("direction", sentence, m.group(0), detail))
    return out


def check_statements(
    sentence: str, marked: str, rules: list[str], state: MarketState
) -> list[Problem]:
    checks: list[Callable[[], list[Problem]]] = [
        lambda: _fired(sentence, marked, state),
        lambda: _verdict(sentence, marked, rules, state),
        lambda: _regime(sentence, marked, state),
        lambda: _confidence(sentence, marked, state),
        lambda: _calls(sentence, state),
    ]
    return [p for check in checks for p in check()]
