"""The state's figures as typed facts: what a number in a narrative may stand for.

The grounding check (:mod:`bot.narrator.grounding`) matches every figure a narrator
writes to a fact of the kind the sentence says it is, about the entity it names. So the
state is read here once into :class:`Fact` records: a value, its :class:`Kind` (a
probability, a return, a sample size, a price, ...), the entity it belongs to (a rule,
a forecast horizon or the market) and the horizon it is measured at.

Units follow the state: fractions for rates and returns, USD for prices and GEX,
points for VIX and RSI, counts for sample sizes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from engine.state import (
    EngineParams,
    HorizonStats,
    Interval,
    MarketState,
    MoveRange,
    RuleState,
)

MARKET = "market"


class Kind(StrEnum):
    PROB = "probability"  # P(up), win rates, base rates and their intervals (fractions)
    RETURN = "return"  # mean/median returns, the day's change, range returns (fractions)
    COUNT = "sample size"  # fires, episodes, wins, days behind a base rate
    PRICE = "price"  # closes, averages, bands, GEX levels, range ends (USD)
    RSI = "RSI"
    VIX = "VIX"
    DARK_POOL = "dark-pool ratio"
    GEX = "GEX"  # USD per 1% move
    VOL = "volatility"  # ATR as a share of price, realised volatility (fractions)
    ATR = "ATR"  # USD
    MACD = "MACD"
    CLAIM = "playbook claim"  # what the playbook claims (fractions): never a measurement
    THRESHOLD = "threshold"  # a rule condition's or parameter's number
    DATE = "date"


@dataclass(frozen=True)
class Fact:
    """One figure of the state: ``value`` of ``kind`` about ``entity`` at ``horizon``.

    ``entity`` is a rule name, ``"forecast"`` or ``"market"``; ``horizon`` is 1 or 5
    trading days, or None when the figure has none. ``base`` marks base-rate figures
    (all days, not a rule's own record); ``label`` says what it is, for repair messages.
    ``topic`` is, for thresholds, the indicator the number bounds (e.g. ``"rsi14"``).
    """

    kind: Kind
    value: float
    entity: str
    label: str
    horizon: int | None = None
    base: bool = False
    topic: str | None = None
    interval: bool = False  # an interval's bound: only where the sentence speaks of one


@dataclass(frozen=True)
class Facts:
    """Every fact of one state, and its dates."""

    items: tuple[Fact, ...]
    dates: frozenset[dt.date]

    def of(self, *kinds: Kind) -> list[Fact]:
        return [f for f in self.items if f.kind in kinds]


def _ok(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _add(
    out: list[Fact],
    kind: Kind,
    value: float | None,
    entity: str,
    label: str,
    horizon: int | None = None,
    *,
    base: bool = False,
    topic: str | None = None,
    interval: bool = False,
) -> None:
    if _ok(value):
        out.append(Fact(kind, float(value), entity, label, horizon, base, topic, interval))  # type: ignore[arg-type]


def _interval(
    out: list[Fact], kind: Kind, ci: Interval | None, entity: str, label: str, horizon: int
) -> None:
    if ci is not None:
        _add(out, kind, ci.low, entity, f"{label} interval low", horizon, interval=True)
        _add(out, kind, ci.high, entity, f"{label} interval high", horizon, interval=True)


def _stats(out: list[Fact], rule: RuleState, s: HorizonStats) -> None:
    name, h = rule.name, s.horizon
    _add(out, Kind.PROB, s.win_rate, name, f"{name} {h}-day win rate", h)
    _interval(out, Kind.PROB, s.win_rate_ci, name, f"{name} {h}-day win rate", h)
    _add(out, Kind.PROB, s.base_win_rate, name, f"{h}-day base rate", h, base=True)
    _add(out, Kind.PROB, s.lift, name, f"{name} {h}-day lift over the base rate", h)
    _add(out, Kind.RETURN, s.mean_return, name, f"{name} {h}-day mean return", h)
    _interval(out, Kind.RETURN, s.mean_return_ci, name, f"{name} {h}-day mean return", h)
    _add(out, Kind.RETURN, s.median_return, name, f"{name} {h}-day median return", h)
    _interval(out, Kind.RETURN, s.median_return_ci, name, f"{name} {h}-day median return", h)
    _add(
        out, Kind.RETURN, s.base_mean_return, name, f"{h}-day mean return of all days", h, base=True
    )
    _add(out, Kind.COUNT, s.n_fired, name, f"{name} {h}-day fires", h)
    _add(out, Kind.COUNT, s.n_episodes, name, f"{name} {h}-day independent episodes", h)
    _add(out, Kind.COUNT, s.wins, name, f"{name} {h}-day wins", h)
    _add(out, Kind.COUNT, s.base_n, name, f"{h}-day days behind the base rate", h, base=True)
    _add(out, Kind.CLAIM, s.claim_win_rate, name, f"{name}'s claimed {h}-day win rate", h)
    _add(out, Kind.CLAIM, s.claim_mean_return, name, f"{name}'s claimed {h}-day return", h)


def _rule(out: list[Fact], rule: RuleState) -> None:
    for s in rule.stats:
        _stats(out, rule, s)
    if rule.claim is not None:
        h = rule.claim.horizon
        _add(out, Kind.CLAIM, rule.claim.win_rate, rule.name, f"{rule.name}'s claim", h)
        _add(out, Kind.CLAIM, rule.claim.mean_return, rule.name, f"{rule.name}'s claim", h)
    for c in rule.conditions:
        if c.right_value is None:
            continue
        # a number or a parameter bounds the indicator; a column (sma20) is a price fact
        if c.right == f"{c.right_value:g}" or c.right in EngineParams.model_fields:
            _add(
                out,
                Kind.THRESHOLD,
                c.right_value,
                rule.name,
                f"{rule.name}: {c.text}",
                topic=c.left,
            )


#: Which indicator each engine parameter bounds (thresholds are matched only when the
#: sentence speaks of that indicator and of a threshold).
PARAM_TOPIC: dict[str, str] = {
    "high_vix": "vix",
    "dark_pool_threshold": "dark_pool",
    "rsi_extreme": "rsi14",
    "rsi_overbought": "rsi14",
    "rsi_oversold": "rsi14",
    "rsi_extreme_low": "rsi14",
}


def _market(out: list[Fact], state: MarketState) -> None:
    bar, ind, reg = state.latest, state.indicators, state.regime
    for name in ("open", "high", "low", "close"):
        _add(out, Kind.PRICE, getattr(bar, name), MARKET, f"the as-of {name}")
    _add(out, Kind.RETURN, bar.change_pct, MARKET, "the day's change")
    for name in ("sma20", "sma50", "sma200", "bb_upper", "bb_middle", "bb_lower"):
        _add(out, Kind.PRICE, getattr(ind, name), MARKET, name)
    _add(out, Kind.RSI, ind.rsi14, MARKET, "RSI(14)")
    _add(out, Kind.ATR, ind.atr14, MARKET, "ATR(14)")
    _add(out, Kind.VOL, ind.atr14_pct, MARKET, "ATR(14) as a share of price")
    _add(out, Kind.VOL, ind.realized_vol_20, MARKET, "20-day realised volatility")
    for name in ("macd", "macd_signal", "macd_hist"):
        _add(out, Kind.MACD, getattr(ind, name), MARKET, name)
    _add(out, Kind.PROB, ind.bb_percent_b, MARKET, "Bollinger %B")
    _add(out, Kind.VIX, reg.vix.level, MARKET, "VIX")
    _add(out, Kind.VIX, reg.vix.mean_10d, MARKET, "VIX 10-day mean")
    g = reg.gex
    _add(out, Kind.GEX, g.value, MARKET, "net GEX")
    _add(out, Kind.GEX, g.previous, MARKET, "the previous day's net GEX")
    _add(out, Kind.PRICE, g.flip_level, MARKET, "the zero-gamma flip")
    _add(out, Kind.PRICE, g.call_wall, MARKET, "the call wall")
    _add(out, Kind.PRICE, g.put_wall, MARKET, "the put wall")
    _add(out, Kind.DARK_POOL, reg.dark_pool.ratio, MARKET, "the dark-pool ratio")
    _add(out, Kind.DARK_POOL, reg.dark_pool.mean_20d, MARKET, "the dark-pool 20-day mean")
    for name, topic in PARAM_TOPIC.items():
        _add(out, Kind.THRESHOLD, getattr(state.params, name), MARKET, name, topic=topic)
    _add(out, Kind.COUNT, len(state.fired_rules), MARKET, "rules firing today")
    _add(out, Kind.COUNT, len(state.rules), MARKET, "rules in the playbook")


def _forecasts(out: list[Fact], state: MarketState) -> None:
    for f in (state.tomorrow, state.next_5_days):
        h = f.horizon
        _add(out, Kind.PROB, f.prob_up, "forecast", f"the {h}-day P(up)", h)
        _add(out, Kind.PROB, f.prob_up_raw, "forecast", f"the {h}-day P(up) before calibration", h)
        _add(out, Kind.PROB, f.base_rate, "forecast", f"the {h}-day base rate", h, base=True)
        _add(out, Kind.PROB, f.edge, "forecast", f"the {h}-day edge over the base rate", h)
        _add(out, Kind.PROB, f.edge_se, "forecast", f"the {h}-day edge's uncertainty", h)
        _add(
            out, Kind.PROB, f.cell_up_rate, "forecast", f"the {h}-day up-rate of days like today", h
        )
        _add(out, Kind.COUNT, f.cell_n, "forecast", f"past days like today ({h}-day)", h)
        _add(
            out,
            Kind.COUNT,
            round(f.cell_n_eff),
            "forecast",
            f"effective days like today ({h}-day)",
            h,
        )
        _add(
            out,
            Kind.COUNT,
            f.base_n,
            "forecast",
            f"days behind the {h}-day base rate",
            h,
            base=True,
        )
        if f.record is not None:
            r = f.record
            _add(out, Kind.COUNT, r.n, "forecast", f"past {h}-day forecasts like today's", h)
            _add(out, Kind.PROB, r.hit_rate, "forecast", f"the {h}-day record's hit rate", h)
            _add(out, Kind.PROB, r.base, "forecast", f"the {h}-day record's base", h, base=True)
            _interval(out, Kind.PROB, r.interval, "forecast", f"the {h}-day record", h)
        for d in f.drivers:
            _add(out, Kind.COUNT, d.n, d.rule, f"{d.rule} {h}-day sample size", h)
            _add(out, Kind.PROB, d.win_rate, d.rule, f"{d.rule} {h}-day win rate", h)
        if f.move is not None:
            _move(out, f.move)


def _move(out: list[Fact], move: MoveRange) -> None:
    h = move.horizon
    _add(out, Kind.VOL, move.sigma, "forecast", f"the {h}-day sigma of the move", h)
    _add(out, Kind.VOL, move.sigma_annualised, "forecast", f"the {h}-day sigma, annualised", h)
    for band in move.bands:
        name = f"the {h}-day {band.level * 100:.0f}% range"
        _add(out, Kind.RETURN, band.return_low, "forecast", f"{name} low (return)", h)
        _add(out, Kind.RETURN, band.return_high, "forecast", f"{name} high (return)", h)
        _add(out, Kind.PRICE, band.price_low, MARKET, f"{name} low", h)
        _add(out, Kind.PRICE, band.price_high, MARKET, f"{name} high", h)


def _levels(out: list[Fact], state: MarketState) -> None:
    for lv in state.key_levels:
        _add(out, Kind.PRICE, lv.price, MARKET, f"the key level {lv.name}")
        _add(out, Kind.RETURN, lv.distance, MARKET, f"{lv.name}'s distance from the close")


def _dates(state: MarketState) -> frozenset[dt.date]:
    days: set[dt.date] = {state.as_of, state.latest.date}
    for p in state.provenance:
        days.update(d for d in (p.first_date, p.last_date) if d is not None)
    for r in state.rules:
        if r.last_fired is not None:
            days.add(r.last_fired)
        for s in r.stats:
            days.update(d for d in (s.window_start, s.window_end) if d is not None)
    for w in state.warnings:
        days.update(w.dates)
    if state.regime.gex.snapshot_time is not None:
        days.add(state.regime.gex.snapshot_time.date())
    return frozenset(days)


@lru_cache(maxsize=32)
def facts_of(state: MarketState) -> Facts:
    """Every figure of ``state`` as a typed fact (cached per state)."""
    out: list[Fact] = []
    _market(out, state)
    _forecasts(out, state)
    _levels(out, state)
    for rule in state.rules:
        _rule(out, rule)
    return Facts(items=tuple(out), dates=_dates(state))
