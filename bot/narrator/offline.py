"""The offline narrator: the forecast's prose from the state alone, no model needed.

It explains the engine's calls the way an analyst would: which signal leads, what its
measured record is (always with its sample size), whether the playbook's claim holds on
this data, what the regime means for ranges, and a strategy that fits the call. Wording
comes from ``prompts/report_phrases.toml``; every figure comes from the state.
"""

from __future__ import annotations

from typing import Any

from bot.narrator.models import ForecastNarrative, Narration
from bot.views.fmt import num, pct, pct_interval, usd
from bot.views.report import claim_text, phrases
from engine.state import Forecast, MarketState, RuleState


class OfflineNarrator:
    """Deterministic template narrator; also the fallback for the model narrator."""

    name = "offline"

    def __init__(self, notes: tuple[str, ...] = ()) -> None:
        self._notes = notes

    def narrate(self, state: MarketState) -> Narration:
        return Narration(narrative=self.write(state), source=self.name, notes=self._notes)

    def write(self, state: MarketState) -> ForecastNarrative:
        return ForecastNarrative(
            immediate_call=state.tomorrow.call,
            immediate_assessment=_explain(state, state.tomorrow),
            five_day_call=state.next_5_days.call,
            five_day_flavour=state.next_5_days.flavour,
            five_day_rationale=_explain(state, state.next_5_days, with_context=True),
            strategy_title=_strategy(state)[0],
            strategy=_strategy(state)[1],
            fired_rules_mentioned=tuple(r.name for r in state.fired_rules),
        )


def _driver_rules(state: MarketState, forecast: Forecast) -> list[RuleState]:
    """Fired rules in order of influence: tier first, then sample size."""
    order = {d.rule: (d.tier, -d.n) for d in forecast.drivers}
    rules = [r for r in state.rules if r.name in order]
    return sorted(rules, key=lambda r: order[r.name])


def _verdict_sentence(rule: RuleState, horizon: int, o: dict[str, Any]) -> str:
    s = rule.stats_at(horizon)
    if s is None or s.verdict in (None, "no claim"):
        return ""
    claim = claim_text(s)
    if not claim and s.verdict != "too few cases":
        return ""
    if s.verdict == "supported":
        return str(o["verdict_supported"]).format(claim=claim)
    if s.verdict == "contradicted":
        return str(o["verdict_contradicted"]).format(claim=claim)
    if s.verdict == "too few cases":
        key = "verdict_few" if claim else "verdict_few_no_claim"
        return str(o[key]).format(claim=claim)
    return str(o["verdict_flat"])


def _explain(state: MarketState, forecast: Forecast, *, with_context: bool = False) -> str:
    o = phrases()["offline"]
    h = forecast.horizon
    span = o[f"span_{h}"]
    rules = _driver_rules(state, forecast)
    parts: list[str] = []
    if not rules:
        parts.append(
            o["nothing"].format(
                span=span, base=pct(forecast.base_rate), n=forecast.base_n, call=forecast.call
            )
        )
    else:
        lead = rules[0]
        s = lead.stats_at(h)
        if s is not None and s.win_rate is not None and s.n_fired > 0:
            parts.append(
                o["lead_driver"].format(
                    tier=lead.tier,
                    name=lead.name,
                    signal=lead.signal,
                    span=span,
                    win_rate=pct(s.win_rate),
                    n=s.sample_size,
                    unit=o["unit_episodes"] if h > 1 else o["unit_days"],
                    ci=pct_interval(s.win_rate_ci),
                    base=pct(s.base_win_rate),
                )
            )
            verdict = _verdict_sentence(lead, h, o)
            if verdict:
                parts.append(verdict)
        if len(rules) > 1:
            names = ", ".join(f"`{r.name}` (Tier {r.tier})" for r in rules[1:])
            parts.append(o["other_drivers"].format(names=names))
        parts.append(
            o["combined"].format(
                prob=pct(forecast.prob_up),
                base=pct(forecast.base_rate),
                call=forecast.call,
                confidence=forecast.confidence,
            )
        )
    if with_context:
        parts.extend(_context(state, o))
    return " ".join(p for p in parts if p)


def _context(state: MarketState, o: dict[str, Any]) -> list[str]:
    out = []
    g, v, d = state.regime.gex, state.regime.vix, state.regime.dark_pool
    if g.regime == "negative":
        out.append(o["gex_negative"].format(gex=usd(g.value)))
    elif g.regime == "positive":
        out.append(o["gex_positive"].format(gex=usd(g.value)))
    if v.level is not None:
        key = "vix_high" if v.regime == "high" else "vix_low"
        out.append(o[key].format(vix=num(v.level), threshold=num(v.high_threshold, 0)))
    rsi = state.indicators.rsi14
    if rsi is not None and rsi > state.params.rsi_extreme:
        out.append(o["rsi_extreme"].format(rsi=num(rsi, 1)))
    if d.regime == "bullish":
        out.append(o["dark_pool"].format(ratio=num(d.ratio)))
    return out


def _strategy(state: MarketState) -> tuple[str, str]:
    st = phrases()["strategy"]
    call = state.next_5_days.call
    if call == "Neutral" and state.tomorrow.call != "Neutral":
        call = state.tomorrow.call
    atr = num(state.indicators.atr14)
    if call == "Bullish" and state.regime.gex.regime == "negative":
        title, text = st["bullish_negative_gamma_title"], st["bullish_negative_gamma"]
    elif call == "Bullish":
        title, text = st["bullish_title"], st["bullish"]
    elif call == "Bearish":
        title, text = st["bearish_title"], st["bearish"]
    else:
        title, text = st["neutral_title"], st["neutral"]
    sentences = [str(text).format(atr=atr)]
    contradicted = [
        f"`{r.name}`"
        for r in state.fired_rules
        if any(s.verdict == "contradicted" for s in r.stats)
    ]
    if contradicted:
        key = "contradicted" if len(contradicted) == 1 else "contradicted_many"
        sentences.append(st[key].format(names=", ".join(contradicted)))
    if state.synthetic:
        sentences.append(st["synthetic"])
    return str(title), " ".join(sentences)
