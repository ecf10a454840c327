"""How a sentence reads a figure: which kind of value it says the figure is.

Cue words around a figure decide its kind for the grounding check
(:mod:`bot.narrator.grounding`): fixed phrasings first ("n=79", "79 episodes", "38% of
the time", "the 20 threshold", "P(up) 49%", "rsi14 <= 70"), then the nearest cue word in
the figure's clause. Numbers that name rather than measure (periods, tiers, a CI's
level) are recognised here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.narrator.facts import PARAM_TOPIC, Kind
from bot.narrator.sentences import Figure
from engine.rules import KNOWN_COLUMNS


@dataclass(frozen=True)
class _Cue:
    pattern: re.Pattern[str]
    kinds: frozenset[Kind]
    name: str


def _cue(name: str, pattern: str, *kinds: Kind) -> _Cue:
    return _Cue(re.compile(pattern, re.I), frozenset(kinds), name)


_CLAIM = _cue(
    "claim",
    r"\bclaim|\bplaybook (?:says|figure|promis)|according to the playbook|"
    r"\bpromis|\badvertis|\bheadline",
    Kind.CLAIM,
)
_BASE = _cue(
    "base",
    r"\bbase\b|base[- ]?rate|\ball days|ordinary day|average day|any day|"
    r"unconditional|every day",
    Kind.PROB,
    Kind.RETURN,
    Kind.COUNT,
)
_TOPICAL = (
    _cue("rsi", r"\brsi\b", Kind.RSI),
    _cue("vix", r"\bvix\b|volatility index|10-day (?:mean|average)", Kind.VIX),
    _cue("dark_pool", r"dark[- ]?pool|buy/sell ratio|\bratio\b", Kind.DARK_POOL),
    _cue("gex", r"\bgex\b|gamma|per 1% move", Kind.GEX),
    _cue("atr", r"\batr\b|average true range", Kind.ATR, Kind.VOL),
    _cue("vol", r"volatil|realis|realiz", Kind.VOL),
    _cue("macd", r"\bmacd\b|histogram|signal line", Kind.MACD),
)
_GENERAL = (
    _cue("interval", r"\bci\b|interval|\bbetween\b|\brange of\b", Kind.PROB, Kind.RETURN),
    _cue(
        "prob",
        r"p\(up\)|probabilit|chance|odds|likel|win rate|hit rate|of the time|"
        r"success|\bedge\b|\blift\b|of (?:the )?(?:cases|days|episodes|fires)",
        Kind.PROB,
    ),
    _cue(
        "return",
        r"\bmean\b|average|median|return|gain|loss|\bmove\b|fell|drop|declin|"
        r"rall|on the day|change|\brose\b|\bslid",
        Kind.RETURN,
    ),
    _cue(
        "price",
        r"\bclose|price|\bsma|moving average|bollinger|\bband|support|resistance|"
        r"\blevel|\bflip|\bwall|strike|target|\brange|\bat\b",
        Kind.PRICE,
    ),
)
_TOPIC_OF_CUE = {"rsi": "rsi14", "vix": "vix", "dark_pool": "dark_pool", "macd": "macd_hist"}
_THRESHOLD_AFTER = re.compile(
    r"^\s*(?:-\s*\d+(?:\.\d+)?\s*)?-?\s*(?:stress\s+)?(?:threshold|line|mark|level|cut-?off|"
    r"bar|band|zone)\b",
    re.I,
)
_THRESHOLD_BEFORE = re.compile(
    r"(?:threshold|line|cut-?off|trigger level)(?: of| at| is| =)?\s*$", re.I
)
_COUNT_AFTER = re.compile(
    r"^\s*(?:independent\s+|non-overlapping\s+|past\s+|trading\s+|effective\s+)?(?:episodes?|"
    r"cases?|times|"
    r"fires|firings|occasions|instances|observations|samples?|days|sessions|trades|signals?|"
    r"outcomes|windows)\b",
    re.I,
)
_PROB_AFTER = re.compile(
    r"^\s*(?:of the (?:time|days|cases|episodes|fires|sessions)|of (?:its|their|all) "
    r"(?:fires|episodes|cases|days)|win rate|hit rate|chance|probability|odds|likelihood)",
    re.I,
)
#: "55% base rate", "53% for all days" / "base rate of 55%", "all days rose 53%".
_BASE_AFTER = re.compile(
    r"^\s*(?:base\b|base[- ]?rate|for all days|on all days|of all days|on an? (?:ordinary|average)"
    r" day|on any day|unconditional)",
    re.I,
)
_BASE_BEFORE = re.compile(
    r"(?:base[- ]?rate|\ball days|ordinary day|average day|any day)[^%\d.;:]{0,16}$", re.I
)
_PUP = re.compile(r"p\(up\)|probability (?:of|that)|chance of|odds of", re.I)
_COMPARED_BEFORE = re.compile(r"\b(?:vs|versus|against|compared (?:with|to)|than)\W*$", re.I)
_N_BEFORE = re.compile(r"\bn\s*=\s*$|\bsample (?:size )?of\s*$|\bout of\s*$", re.I)
INTERVAL = re.compile(r"\bci\b|interval|between|\brange\b|confidence|\bfrom\b", re.I)
_CLAUSE = re.compile(
    r";|\bvs\b|\bversus\b|\bagainst\b|\bcompared (?:with|to)\b|,\s*but\b|\bwhile\b|"
    r"\bwhereas\b|\balthough\b|\bthan\b|\bbut\b",
    re.I,
)
APPROX = re.compile(r"(about|around|roughly|nearly|almost|approximately|~|close to|some)\s*$", re.I)
_PERIODS = {1.0, 2.0, 3.0, 5.0, 9.0, 10.0, 12.0, 14.0, 20.0, 26.0, 50.0, 200.0}
HORIZON_WORDS = {
    1: re.compile(
        r"tomorrow|next[- ](?:trading[- ])?(?:day|session)|1-day|one-day|\bovernight|"
        r"following (?:day|session)|\bday ahead|immediate",
        re.I,
    ),
    5: re.compile(
        r"\b(?:5|five)[- ](?:trading[- ])?(?:days?|sessions?)|next week|"
        r"\bweek\b|short[- ]term",
        re.I,
    ),
}


_RATE_AFTER = re.compile(
    r"^\s*(?:win(?:ning)?[- ]rate|hit rate|success rate|of the time|of (?:its|the) "
    r"(?:fires|episodes|cases|days|sessions|times)|wins?\b|record)",
    re.I,
)
_RATE_BEFORE = re.compile(r"\b(?:won|wins|rose|fell|was up|closed higher|up)\s+(?:in\s+)?$", re.I)


def structural(f: Figure, text: str) -> bool:
    """A number that names rather than measures: a period, a tier, a CI level."""
    before, after = text[: f.start].lower(), text[f.end :].lower()
    if (
        f.unit == ""
        and f.value in _PERIODS
        and re.match(
            r"^\s*(?:-|\s)?(?:trading[- ])?(?:day|days|session|sessions|week|weeks|period)\b", after
        )
    ):
        return True
    if re.search(r"\btier\s*$", before) or (
        re.search(r"\b(?:top|the)\s*$", before) and f.value < 4
    ):
        return True
    if f.unit == "" and re.search(r"\b(?:rsi|atr|sma|ema|macd|bollinger|bb)\s*\(?\s*$", before):
        return True
    if (
        f.unit == ""
        and re.search(r"\(\s*(?:\d+\s*,\s*)*$", before)
        and re.search(r"^\s*[,)]", after)
    ):
        return f.value in _PERIODS
    if (
        f.unit == "%"
        and f.value in (68.0, 90.0, 95.0, 99.0)
        and (
            re.match(r"^\s*(?:ci\b|confidence|interval|range|band|wilson|high\b|low\b)", after)
            or (re.search(r"\brange", text, re.I) and re.match(r"^\s*[-+]?\$?\d", after))
        )
    ):
        return True
    if f.unit == "%" and f.value == 1.0 and re.match(r"^\s*move", after):
        return True
    if f.unit == "" and re.match(r"^\s*(?:σ|sigma|standard dev|sd\b|std)", after):
        return True
    # "not a 100% guarantee", "100% of the data": a whole, not a measurement, unless the
    # figure is written as a rate ("a 100% win rate", "up 100% of the time", "rose 100%"):
    # then it must be a record the state holds
    if f.unit != "%" or f.value != 100.0:
        return False
    return not (_RATE_AFTER.search(after) or _RATE_BEFORE.search(before))


def clause(text: str, start: int, end: int) -> tuple[int, int]:
    lo = max((m.end() for m in _CLAUSE.finditer(text, 0, start)), default=0)
    nxt = _CLAUSE.search(text, end)
    return lo, nxt.start() if nxt else len(text)


def _nearest(
    cues: Iterable[_Cue],
    text: str,
    f: Figure,
    lo: int,
    hi: int,
    *,
    limit: int | None = 60,
    bonus: tuple[_Cue, ...] = (),
) -> _Cue | None:
    """The cue whose words sit closest to ``f`` within ``text[lo:hi]`` (cues after the
    figure count six characters farther; cues in ``bonus`` six nearer)."""
    best: tuple[int, _Cue] | None = None
    for cue in cues:
        for m in cue.pattern.finditer(text, lo, hi):
            gap = f.start - m.end() if m.end() <= f.start else m.start() - f.end + 6
            gap = max(gap, 0) - (6 if cue in bonus else 0)
            if best is None or gap < best[0]:
                best = (gap, cue)
    if best is None or (limit is not None and best[0] > limit):
        return None
    return best[1]


_UNIT_KINDS: dict[str, frozenset[Kind]] = {
    "%": frozenset({Kind.PROB, Kind.RETURN, Kind.VOL, Kind.CLAIM}),
    "pp": frozenset({Kind.PROB}),
    "$": frozenset({Kind.PRICE, Kind.ATR, Kind.GEX}),
    "B": frozenset({Kind.GEX}),
    "M": frozenset({Kind.GEX}),
    "K": frozenset({Kind.GEX}),
    "T": frozenset({Kind.GEX}),
    "x": frozenset({Kind.DARK_POOL}),
}
_PLAIN = frozenset(
    {
        Kind.PRICE,
        Kind.RSI,
        Kind.VIX,
        Kind.DARK_POOL,
        Kind.ATR,
        Kind.MACD,
        Kind.COUNT,
        Kind.PROB,
        Kind.RETURN,
        Kind.VOL,
        Kind.THRESHOLD,
        Kind.GEX,  # a raw dollar figure written without a unit
    }
)


@dataclass(frozen=True)
class Reading:
    """What a figure is said to be: its kinds, base rate or not, a topic, the P(up)."""

    kinds: frozenset[Kind]
    base: bool | None = None  # True: a base-rate figure; False: not one; None: either
    topic: str | None = None
    p_up: bool = False


def reading_of(f: Figure, text: str, named_rule: bool) -> Reading:
    """How the sentence reads figure ``f`` (see the module docstring).

    Fixed phrasings decide first (``n=79``, "79 episodes", "38% of the time", "the 20
    threshold", "P(up) 49%"); otherwise the nearest cue word in the figure's clause,
    where a claim or base-rate cue right beside a figure wins over a general word.
    """
    lo, hi = clause(text, f.start, f.end)
    unit_kinds = _UNIT_KINDS.get(f.unit, _PLAIN)
    # A rule's own rate is not an all-days figure, unless the clause compares with one
    # ("vs 55%", "against a 55% base").
    compared = bool(_COMPARED_BEFORE.search(text[: lo + 1]))
    base: bool | None = None if (not named_rule or compared) else False
    near = _nearest((_CLAIM, *_GENERAL), text, f, lo, hi, bonus=(_CLAIM,))
    if _BASE_AFTER.match(text[f.end :]) or _BASE_BEFORE.search(text[: f.start]):
        base = True
    pup = bool(_PUP.search(text[max(0, f.start - 25) : f.start])) and not compared
    written = _COLUMN_OP.search(text[: f.start])
    if written is not None and f.unit == "":
        return _column_reading(written.group(1).lower(), written.group(2))
    counted = _COUNT_AFTER.match(text[f.end :]) or _N_BEFORE.search(text[: f.start])
    if f.unit == "" and f.decimals == 0 and counted:
        return Reading(frozenset({Kind.COUNT}), True if base else None)
    # a claim covers the figures after it in its clause ("claims 86% win rate, +2.67%
    # average") and one written right before the word ("the playbook's 62% claim")
    claimed = _CLAIM.pattern.search(text, lo, f.start) or _CLAIM.pattern.match(
        text[f.end : f.end + 12].lstrip(" %")
    )
    if (near is _CLAIM or claimed) and (Kind.CLAIM in unit_kinds or f.unit == ""):
        return Reading(frozenset({Kind.CLAIM}))
    topic = _nearest(_TOPICAL, text, f, 0, len(text), limit=None)
    if f.unit == "" and (
        _THRESHOLD_AFTER.match(text[f.end :]) or _THRESHOLD_BEFORE.search(text[: f.start])
    ):
        name = topic.name if topic is not None else None
        return Reading(frozenset({Kind.THRESHOLD}), topic=_TOPIC_OF_CUE.get(name or "", name))
    if Kind.PROB in unit_kinds and (_PROB_AFTER.match(text[f.end :]) or pup):
        return Reading(frozenset({Kind.PROB}), base, p_up=pup and not base)
    if base and unit_kinds & _BASE.kinds:
        return Reading(unit_kinds & _BASE.kinds, True)
    # a plain number takes its indicator's kind (VIX, RSI, ...) before any general word
    # (in its clause first, then anywhere near it in the sentence)
    order: tuple[tuple[tuple[_Cue, ...], int, int, int | None], ...] = (
        (_TOPICAL, lo, hi, None),
        (_GENERAL, lo, hi, 60),
    )
    if f.unit != "":
        order = (((*_TOPICAL, *_GENERAL), lo, hi, 60),)
    for cues, a, b, limit in order:
        cue = _nearest(cues, text, f, a, b, limit=limit)
        if cue is not None and cue.kinds & unit_kinds:
            return Reading(cue.kinds & unit_kinds, base)
    return Reading(unit_kinds - {Kind.CLAIM, Kind.THRESHOLD, Kind.COUNT}, base)


#: "rsi14 = 79.27", "rsi14 <= 70", "rsi14 = 79.27 <= 70": an engine column or parameter.
_COLUMN_OP = re.compile(
    r"\b(" + "|".join(sorted({*KNOWN_COLUMNS, *PARAM_TOPIC}, key=len, reverse=True)) + r")"
    r"\s*(?:=\s*[-\d.,]+\s*)?(<=|>=|<|>|=)\s*$",
    re.I,
)
_COLUMN_KIND = (
    ("rsi", Kind.RSI),
    ("vix", Kind.VIX),
    ("gex", Kind.GEX),
    ("dark_pool", Kind.DARK_POOL),
    ("macd", Kind.MACD),
    ("atr", Kind.ATR),
    ("", Kind.PRICE),  # close, sma20, bb_lower, ...
)


def _column_reading(column: str, op: str) -> Reading:
    """A figure written as a condition's value ("rsi14 = 79.27") or bound ("rsi14 <= 70")."""
    if op != "=" or column in PARAM_TOPIC:
        return Reading(frozenset({Kind.THRESHOLD}), topic=PARAM_TOPIC.get(column, column))
    kind = next(k for prefix, k in _COLUMN_KIND if column.startswith(prefix))
    return Reading(frozenset({kind}))
