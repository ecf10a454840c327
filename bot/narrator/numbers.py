"""Is every number in a text present in the state? The grounding check.

A narrator (template or model) may only write figures that the MarketState holds,
possibly rounded and possibly shown as a percentage or in billions. :func:`ungrounded_numbers`
lists the tokens of a text that match no value of the state, so a model reply can be
repaired or rejected.

Matching rules, for a token with ``d`` decimals and value ``v``:

* a state value ``x`` matches when ``|x - v| <= 0.5 * 10**-d`` (rounding), also for
  ``100 * x`` (a fraction shown as a percentage) and for ``x / 1e9``, ``x / 1e6``,
  ``x / 1e3`` when the token carries a B/M/K (or bn/mn) suffix;
* signs are ignored (a loss of 1.2% is written "-1.2%" or "down 1.2%");
* dates (YYYY-MM-DD) must be dates of the state;
* numbers glued to letters (``SMA20``, ``RSI14``, ``Tier1``) are names, not figures;
* a few structural numbers are always allowed: tier numbers, the horizons, indicator
  periods and the 95 of "95% CI".
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from functools import lru_cache

from engine.state import MarketState

STRUCTURAL = frozenset({1.0, 2.0, 3.0, 5.0, 9.0, 10.0, 12.0, 14.0, 20.0, 26.0, 50.0, 95.0, 200.0})

_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_NUMBER = re.compile(
    r"(?<![A-Za-z_\d.])[-+−]?\$?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?"
    r"\s?(%|bn\b|mn\b|[BMK]\b)?(?![A-Za-z_\d])"
)
_SCALE = {"B": 1e9, "bn": 1e9, "M": 1e6, "mn": 1e6, "K": 1e3}


def _walk(value: object, out: set[float], dates: set[str]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            out.add(float(value))
    elif isinstance(value, (dt.date, dt.datetime)):
        dates.add(value.isoformat()[:10])
    elif isinstance(value, dict):
        for v in value.values():
            _walk(v, out, dates)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _walk(v, out, dates)


@lru_cache(maxsize=16)
def _state_values(state: MarketState) -> tuple[tuple[float, ...], frozenset[str]]:
    values: set[float] = set()
    dates: set[str] = set()
    _walk(state.model_dump(), values, dates)
    return tuple(sorted(values)), frozenset(dates)


def _matches(token_value: float, decimals: int, unit: str | None, values: Iterable[float]) -> bool:
    tol = 0.5 * 10.0**-decimals + 1e-9
    v = abs(token_value)
    for x in values:
        ax = abs(x)
        candidates = [ax, ax * 100.0]
        if unit in _SCALE:
            candidates = [ax / _SCALE[unit]]
        if any(abs(c - v) <= tol for c in candidates):
            return True
    return False


def ungrounded_numbers(text: str, state: MarketState) -> list[str]:
    """The number tokens in ``text`` that no value of ``state`` accounts for."""
    values, dates = _state_values(state)
    bad: list[str] = []
    for m in _DATE.finditer(text):
        if m.group(0) not in dates:
            bad.append(m.group(0))
    stripped = _DATE.sub(" ", text)
    for m in _NUMBER.finditer(stripped):
        whole, frac, unit = m.group(1), m.group(2) or "", m.group(3)
        value = float(whole.replace(",", "") + frac)
        decimals = max(len(frac) - 1, 0)
        if unit is None and decimals == 0 and value in STRUCTURAL:
            continue
        if unit == "%" and decimals == 0 and value in (95.0, 100.0):
            continue
        if not _matches(value, decimals, unit, values):
            bad.append(m.group(0).strip())
    return bad
