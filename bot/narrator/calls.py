"""Does free text state the engine's calls? The call check for answers and prose.

A forecast's structured fields carry the calls and are compared exactly; an answer is
free text, so its statements about the forecast are read sentence by sentence:

* a sentence about tomorrow ("tomorrow", "next session", "1-day", "immediate") that
  says Bullish / Bearish / Neutral must say tomorrow's call;
* one about the next five days ("5-day", "next five sessions", "this week", "short
  term") must say the five-day call;
* one about the forecast without a horizon ("the engine's call is ...") must say one of
  the two calls;
* a recommended trade ("go long", "buy puts", "short IWM", "open a long position") must
  agree with a call: long needs a Bullish call, short a Bearish one. Descriptions
  ("as short positions get covered") are not recommendations.

Negated words ("not bullish") and words that describe a rule or a signal rather than
the forecast ("a bullish signal", "bearish rule") are not statements of the call.
"""

from __future__ import annotations

import re

from engine.state import MarketState

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_CALL = re.compile(r"\b(bullish|bearish|neutral)\b", re.IGNORECASE)
_NEGATED = re.compile(
    r"(?i)\b(not|never|no longer|isn't|wasn't|aren't|rather than|instead of|nor|hardly)"
    r"\s+(\w+\s+){0,2}?(bullish|bearish|neutral)\b"
)
_DESCRIBES = re.compile(
    r"(?i)\b(bullish|bearish|neutral)(\s+\w+)?(\s+(?:or|and|nor)\s+(?:bullish|bearish|neutral))?"
    r"\s+(calls|cases|scenarios|outcomes|views|arguments|sides|"
    r"rules?|signals?|setups?|tiers?|indicators?|"
    r"readings?|signs?|edges?|patterns?|factors?|drivers?|regimes?|conditions?|directions?|"
    r"playbook|tilt|lean|rule's)\b"
)
_H1 = re.compile(
    r"(?i)\b(tomorrow'?s?|next (trading )?(day|session)|1[- ]day|one[- ]day|immediate|"
    r"overnight)\b"
)
_H5 = re.compile(
    r"(?i)\b((next|coming) (5|five) (trading )?(days|sessions)|5[- ]day|five[- ]day|"
    r"short[- ]term|this week|next week|week ahead)\b"
)
_ABOUT = re.compile(
    r"(?i)\b(forecasts?|calls?|outlook|engine'?s?|predictions?|expects?|expectation|bias|"
    r"view|verdict)\b"
)
_OPEN = r"(open(ing)?|tak(e|ing)|enter(ing)?|add(ing)?|build(ing)?)\s+(a\s+|some\s+)?"
_LONG = re.compile(
    r"(?i)\b(go(ing)?\s+long|buy(ing)?\s+(the\s+)?(iwm|calls?|call options|shares|dip|etf)|"
    + _OPEN
    + r"long(\s+position|\s+exposure)?|bullish\s+(trades?|bets?))\b"
)
_SHORT = re.compile(
    r"(?i)\b(go(ing)?\s+short|short(ing)?\s+(iwm|the index|small caps)|"
    r"sell(ing)?\s+(the\s+)?(iwm|calls|etf|shares)|buy(ing)?\s+puts?|"
    + _OPEN
    + r"short(\s+position|\s+exposure)?|bearish\s+(trades?|bets?))\b"
)
_NEGATED_TRADE = re.compile(r"(?i)\b(not|never|don't|do not|avoid|no need to|rather than)\s+")


#: A rule's label ("RSI_Extreme is labelled bullish"), not a statement of the forecast.
_LABELLED = re.compile(r"(?i)\blabel(?:l)?ed\s+(?:as\s+)?(bullish|bearish|neutral)\b")


def _calls_in(sentence: str) -> set[str]:
    text = _DESCRIBES.sub(" ", _NEGATED.sub(" ", _LABELLED.sub(" ", sentence)))
    return {m.group(1).capitalize() for m in _CALL.finditer(text)}


def _trades_in(sentence: str) -> set[str]:
    found = set()
    for pattern, call in ((_LONG, "Bullish"), (_SHORT, "Bearish")):
        for m in pattern.finditer(sentence):
            before = sentence[max(0, m.start() - 20) : m.start()]
            if not _NEGATED_TRADE.search(before):
                found.add(call)
    return found


#: A direction stated as likely ("the price is likely to increase"): a forecast, and
#: only the engine makes one. "could", "may" and "if" are not statements of likelihood.
_LIKELY = re.compile(
    r"(?i)\b(?:price|prices|iwm|the market|small caps|the etf)\b[^.;]{0,30}?\b"
    r"(?:is|are|looks?|seems?)\s+(?:more\s+)?(?:likely|expected|poised|set|on track)\s+to\s+"
    r"(increase|rise|go up|climb|gain|rally|move higher|head higher|"
    r"fall|decline|drop|go down|slide|move lower|head lower)\b"
)
_UP_MOVES = ("increase", "rise", "go up", "climb", "gain", "rally", "move higher", "head higher")


def _expected_moves_in(sentence: str) -> set[str]:
    out = set()
    for m in _LIKELY.finditer(sentence):
        if re.search(r"(?i)\b(?:not|no longer)\b", m.group(0)):
            continue
        out.add("Bullish" if m.group(1).lower() in _UP_MOVES else "Bearish")
    return out


def call_problems(text: str, state: MarketState) -> list[str]:
    """Statements in ``text`` that contradict the engine's calls (empty when none)."""
    one, five = state.tomorrow.call, state.next_5_days.call
    problems: list[str] = []
    for sentence in _SENTENCE.split(text):
        calls = _calls_in(sentence)
        h1, h5 = bool(_H1.search(sentence)), bool(_H5.search(sentence))
        if calls and h1 and not h5 and calls - {one}:
            problems.append(f"tomorrow's call is {one}, not {', '.join(sorted(calls - {one}))}")
        elif calls and h5 and not h1 and calls - {five}:
            problems.append(f"the five-day call is {five}, not {', '.join(sorted(calls - {five}))}")
        elif calls and (h1 or h5 or _ABOUT.search(sentence)) and calls - {one, five}:
            wrong = ", ".join(sorted(calls - {one, five}))
            problems.append(
                f"the engine's calls are {one} (tomorrow) and {five} (5 days), not {wrong}"
            )
        for implied in _expected_moves_in(sentence) - {one, five}:
            problems.append(
                f"a move said to be likely is a {implied} forecast; the engine's calls are "
                f"{one} (tomorrow) and {five} (5 days)"
            )
        for implied in _trades_in(sentence) - {one, five}:
            side = "long" if implied == "Bullish" else "short"
            problems.append(
                f"a {side} trade needs a {implied} call; the engine's calls are {one} and {five}"
            )
    return list(dict.fromkeys(problems))
