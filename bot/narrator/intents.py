"""Questions the state answers without a model: levels and walls, indicator definitions.

Each function takes the question and the state and returns the answer's text, or None
when the question is not of its kind. The wording is in ``prompts/offline_answers.toml``;
every figure comes from the state, formatted as the report formats it.
"""

from __future__ import annotations

import re
from typing import Any

import prompts
from bot.views.fmt import NA, num, pct, signed_pct, usd
from bot.views.levels import levels_text
from engine.state import MarketState

#: Question words that ask for a level of the option chain.
_CALL_WALL = re.compile(r"\bcall[ -]?wall\b", re.I)
_PUT_WALL = re.compile(r"\bput[ -]?wall\b", re.I)
_FLIP = re.compile(
    r"\b(gamma[ -]flip|flip[ -](level|point|price|strike)|zero[ -]gamma|where\b.{0,25}\bflip)\b",
    re.I,
)
_LEVELS = re.compile(r"\b(key[ -]levels?|levels|support|resistance|walls)\b", re.I)

#: Indicator terms, in the order they are tried (longer names first).
TERMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("dark_pool", re.compile(r"\bdark[ -]?pool|\bdix\b|\bshort volume\b", re.I)),
    ("realized_vol", re.compile(r"\breali[sz]ed vol", re.I)),
    ("base_rate", re.compile(r"\bbase[ -]rate\b", re.I)),
    ("bollinger", re.compile(r"\bbollinger|\bbb\b|%b\b", re.I)),
    ("macd", re.compile(r"\bmacd\b", re.I)),
    ("rsi", re.compile(r"\brsi(14)?\b|relative strength", re.I)),
    ("vix", re.compile(r"\bvix\b|volatility index", re.I)),
    ("gex", re.compile(r"\bgex\b|gamma exposure|dealer gamma", re.I)),
    ("sma", re.compile(r"\bsma ?(20|50|200)?\b|moving average", re.I)),
    ("atr", re.compile(r"\batr(14)?\b|average true range", re.I)),
    ("trend", re.compile(r"\btrend\b", re.I)),
)


def _phrases() -> dict[str, Any]:
    return prompts.table("offline_answers.toml")


def terms_in(question: str) -> list[str]:
    """The indicator terms ``question`` names, in :data:`TERMS` order."""
    return [name for name, pattern in TERMS if pattern.search(question)]


def _distance(price: float, close: float) -> str:
    return signed_pct(price / close - 1)


def level_answer(question: str, state: MarketState) -> str | None:
    """The call wall, put wall, gamma flip or the key levels, if the question asks."""
    p = _phrases()
    g, close = state.regime.gex, state.latest.close
    when = f"{g.snapshot_time:%Y-%m-%d %H:%M}" if g.snapshot_time else str(state.as_of)
    for pattern, key, name, value in (
        (_CALL_WALL, "call_wall", "call wall", g.call_wall),
        (_PUT_WALL, "put_wall", "put wall", g.put_wall),
        (_FLIP, "flip", "gamma flip", g.flip_level),
    ):
        if not pattern.search(question):
            continue
        if value is None:
            if key == "flip" and g.call_wall is not None and g.regime != "unknown":
                return str(p["flip_none"].format(as_of=state.as_of, regime=g.regime))
            return str(p["wall_missing"].format(name=name, as_of=state.as_of))
        return str(
            p["wall"].format(
                name=name,
                price=num(value),
                distance=_distance(value, close),
                close=num(close),
                meaning=p[key],
                time=when,
            )
        )
    if not _LEVELS.search(question):
        return None
    return levels_text(state)


def definition_answer(question: str, state: MarketState) -> str | None:
    """What the one indicator the question names means, with today's value; None when it
    names none or several (the indicator summary answers those)."""
    found = terms_in(question)
    if len(found) != 1:
        return None
    return str(_phrases()["definitions"][found[0]].format(**_values(state)))


def _values(state: MarketState) -> dict[str, str]:
    i, r = state.indicators, state.regime
    g, dp = r.gex, r.dark_pool
    series = f", from {g.series}" if g.series else ""
    return {
        "as_of": str(state.as_of),
        "close": num(state.latest.close),
        "rsi": num(i.rsi14, 1),
        "vix": num(r.vix.level),
        "vix_mean": num(r.vix.mean_10d),
        "vix_regime": r.vix.regime,
        "high": f"{r.vix.high_threshold:g}",
        "gex": usd(g.value),
        "gex_regime": g.regime,
        "gex_series": series,
        "dp": num(dp.ratio),
        "dp_mean": num(dp.mean_20d),
        "dp_threshold": f"{dp.threshold:g}",
        "macd": num(i.macd),
        "macd_signal": num(i.macd_signal),
        "macd_hist": num(i.macd_hist),
        "sma20": num(i.sma20),
        "sma50": num(i.sma50),
        "sma200": num(i.sma200),
        "bb_upper": num(i.bb_upper),
        "bb_middle": num(i.bb_middle),
        "bb_lower": num(i.bb_lower),
        "bb_b": num(i.bb_percent_b),
        "atr": num(i.atr14),
        "atr_pct": pct(i.atr14_pct, 1),
        "trend": i.trend,
        "trend_basis": i.trend_basis.rstrip(".") or NA,
        "rv": pct(i.realized_vol_20, 1),
        "b1": pct(state.tomorrow.base_rate),
        "b5": pct(state.next_5_days.base_rate),
    }
