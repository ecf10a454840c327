"""Reading a narrative: sentences, the rules they name, their figures and their dates.

Pure text handling for :mod:`bot.narrator.grounding`. A sentence's rule mentions are
replaced by placeholders (``⟦0⟧`` for the first rule of the state) before anything else
reads it, so a rule's name ("GEX_Negative") is never mistaken for a statement about
the regime ("GEX is negative") and never yields a figure.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from engine.state import MarketState

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        (
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        )
    )
    for m in names.split()
}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b"),
    re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b"),
    re.compile(_MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{4}))?\b", re.I),
    re.compile(
        r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+(?P<y>\d{4}))?\b",
        re.I,
    ),
)
_YEAR = re.compile(
    r"(?<![\w.$⟦=])(?P<y>(?:19|20)\d{2})(?![\w.%]|,\d)"
    r"(?!\s+(?:independent\s+|trading\s+)?(?:days|sessions|cases|episodes|times|fires|rows))"
)

#: Figures: an optional sign, digits (with thousands commas), decimals, and a unit.
_FIGURE = re.compile(
    r"(?<![\w.⟦])(?P<sign>[-+−])?(?P<dollar>\$\s?)?(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?P<unit>\s?%|\s?pp\b|\s?percentage points?\b|\s?points?\b(?!\s+(?:to|at|toward|out)\b)|"
    r"\s?(?:bn|billion)\b|"
    r"\s?(?:mn|million)\b|\s?(?:thousand)\b|\s?[BMKT]\b|x\b)?(?![\w])",
    re.I,
)
#: "23-52%" and "23% to 52%": both ends are percentages.
_PCT_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s?%?\s?(?:-|–|to)\s?(\d+(?:\.\d+)?)\s?%")
_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[^a-z0-9\s])|\n+")


@dataclass(frozen=True)
class Figure:
    """A number written in a sentence, with what its spelling says about it."""

    text: str
    value: float  # as written, without the unit's scale
    decimals: int
    unit: str  # "%", "pp", "$", "B", "M", "K", "T", "x" or ""
    signed: bool
    start: int
    end: int

    @property
    def scaled(self) -> float:
        """The value in plain units (dollars for B/M/K/T)."""
        scale = {"B": 1e9, "M": 1e6, "K": 1e3, "T": 1e12}.get(self.unit, 1.0)
        return self.value * scale


@dataclass(frozen=True)
class WrittenDate:
    text: str
    date: dt.date | None  # None when only month and day (or only a year) were written
    month: int | None
    day: int | None
    year: int | None


def split_raw(text: str) -> list[str]:
    """The sentences of ``text`` as written (markdown kept), split after . ! ? or lines.

    "vs.", "e.g." and "i.e." do not end a sentence.
    """
    pieces: list[str] = []
    start = 0
    for m in _SPLIT.finditer(text):
        if text[: m.start()].endswith(("vs.", "e.g.", "i.e.")):
            continue
        pieces.append(text[start : m.start()])
        start = m.end()
    pieces.append(text[start:])
    return [p for p in pieces if clean(p)]


def clean(sentence: str) -> str:
    """A sentence without markdown emphasis or code marks, abbreviations spelled out."""
    out = sentence.replace("**", "").replace("`", "").replace("__", "")
    out = re.sub(r"\bvs\.\s", "vs ", out)
    out = re.sub(r"\be\.g\.\s|\bi\.e\.\s", "for example ", out)
    return out.strip(" *-•\t")


def split_sentences(text: str) -> list[str]:
    """Sentences of a narrative, cleaned (see :func:`clean`)."""
    return [clean(p) for p in split_raw(text)]


def _words(text: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").replace("-", " ")
    return set(re.findall(r"[a-z]+", spaced.lower()))


_STOP = frozenset({"and", "or", "the", "of", "a"})


def _spaced(words: list[str]) -> str:
    """Words as a case-sensitive phrase (connectors in any case), spaces or hyphens between."""
    parts = [f"(?i:{re.escape(w)})" if w.lower() in _STOP else re.escape(w) for w in words]
    return r"[\s-]+".join(parts)


def mark_rules(sentence: str, state: MarketState) -> tuple[str, list[int]]:
    """``sentence`` with each rule it names replaced by ``⟦i⟧``, and those indices.

    A rule is named by its exact name in any case (``gex_negative``), by its words in the
    name's own case ("GEX Negative", "Golden Setup"), by its words in any case followed by
    "rule" or "signal" ("the bb breakout lower rule"), or by its nickname in its own case
    ("The Panic Reversal"). Lower-case prose ("gex turned positive", "oversold") is a
    statement, not a rule's name. Longer names are matched first, so a rule whose words
    sit inside a longer rule's name is not counted twice.
    """
    out = sentence
    found: list[int] = []
    candidates: list[tuple[int, str, int]] = []
    for i, rule in enumerate(state.rules):
        words = [w for w in re.split(r"[_\s]+", rule.name) if w]
        candidates.append(
            (i, "(?i:" + r"_".join(re.escape(w) for w in words) + ")", len(rule.name))
        )
        candidates.append((i, _spaced(words), len(rule.name)))
        # in any case when the sentence says it is a rule: "the bb breakout lower rule"
        anycase = r"[\s-]+".join(re.escape(w) for w in words)
        candidates.append((i, f"(?i:{anycase})(?=\\s+(?i:rule|signal|setup)\\b)", len(rule.name)))
        if rule.nickname:
            nick = [w for w in re.split(r"[\s-]+", rule.nickname.removeprefix("The ")) if w]
            candidates.append((i, _spaced(nick), len(rule.nickname)))
    # longest names first, so Negative_GEX_AND_High_VIX wins over GEX_Negative's words
    for i, pattern, _ in sorted(candidates, key=lambda c: -c[2]):
        regex = re.compile(r"(?<![\w⟦])" + pattern + r"(?:'s)?(?![\w⟧])")
        if regex.search(out):
            out = regex.sub(f"⟦{i}⟧", out)
            if i not in found:
                found.append(i)
    return out, found


def rule_indices(marked: str) -> list[int]:
    return [int(m) for m in re.findall(r"⟦(\d+)⟧", marked)]


def find_dates(sentence: str) -> tuple[str, list[WrittenDate]]:
    """The dates written in ``sentence`` (ISO, US or in words) and the text without them."""
    dates: list[WrittenDate] = []
    out = sentence
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(out):
            g = m.groupdict()
            month = _MONTHS[g["mon"].lower()] if g.get("mon") else int(g["m"])
            day, year = int(g["d"]), int(g["y"]) if g.get("y") else None
            try:
                date = dt.date(year, month, day) if year else None
            except ValueError:
                date = dt.date(1, 1, 1)  # an impossible date is never in the state
            dates.append(WrittenDate(m.group(0), date, month, day, year))
        out = pattern.sub(lambda m: " " * len(m.group(0)), out)
    for m in _YEAR.finditer(out):
        dates.append(WrittenDate(m.group(0), None, None, None, int(m.group("y"))))
    out = _YEAR.sub(lambda m: " " * len(m.group(0)), out)
    return out, dates


def expand_ranges(sentence: str) -> str:
    """'23-52%' and '23% to 52%' written as two percentages: '23% 52%'."""
    return _PCT_RANGE.sub(lambda m: f"{m.group(1)}% {m.group(2)}%", sentence)


def find_figures(text: str) -> list[Figure]:
    """Every figure of ``text`` (ranges expanded, dates blanked out), with its unit."""
    figures = []
    for m in _FIGURE.finditer(text):
        raw_unit = (m.group("unit") or "").strip().lower()
        unit = {
            "%": "%",
            "pp": "pp",
            "bn": "B",
            "billion": "B",
            "b": "B",
            "mn": "M",
            "million": "M",
            "m": "M",
            "k": "K",
            "thousand": "K",
            "t": "T",
            "x": "x",
        }.get(raw_unit, "pp" if raw_unit.startswith(("percentage", "point")) else "")
        if not unit and m.group("dollar"):
            unit = "$"
        frac = m.group("frac") or ""
        figures.append(
            Figure(
                text=m.group(0).strip(),
                value=float(m.group("num").replace(",", "") + frac),
                decimals=max(len(frac) - 1, 0),
                unit=unit,
                signed=m.group("sign") is not None,
                start=m.start(),
                end=m.end(),
            )
        )
        if m.group("sign") in ("-", "−"):
            figures[-1] = _negated(figures[-1])
    return figures


def _negated(f: Figure) -> Figure:
    return Figure(f.text, -f.value, f.decimals, f.unit, f.signed, f.start, f.end)
