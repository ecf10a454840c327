"""The offline narrator: the forecast's prose from the state alone, no model needed.

It explains the engine's calls the way an analyst would: which signal leads, what its
measured record is (always with its sample size), whether the playbook's claim holds on
this data, how the set of fired rules became P(up), why the call and the confidence are
what they are, and what the regime means for ranges. The strategy line is the one of the
engine's stance (the call at its confidence, :func:`engine.state.stance_of`) with the
range prices; the narrator never decides a call, a confidence or a stance. Wording comes
from ``prompts/report_phrases.toml``; every figure comes from the state.
"""

from __future__ import annotations

from typing import Any

from bot.narrator.models import ForecastNarrative, Narration
from bot.views.fmt import num, pct, pct_interval, usd
from bot.views.report import claim_text, phrases, why_low
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
    """Fired rules in display order: tier first, then sample size."""
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
        parts.extend(_decision(forecast, o, span))
    if with_context:
        parts.extend(_context(state, o))
    return " ".join(p for p in parts if p)


def _decision(forecast: Forecast, o: dict[str, Any], span: str) -> list[str]:
    """How the cell of fired rules became P(up), then the call and the confidence."""
    cell = " + ".join(f"`{name}`" for name in forecast.cell)
    base = pct(forecast.base_rate)
    if forecast.cell_n == 0 or forecast.cell_up_rate is None:
        out = [o["cell_new"].format(cell=cell, base=base)]
    else:
        out = [
            o["cell"].format(
                cell=cell,
                span=span,
                rate=pct(forecast.cell_up_rate),
                n=forecast.cell_n,
                n_eff=num(forecast.cell_n_eff, 0),
                prob=pct(forecast.prob_up),
                base=base,
            )
        ]
    record = forecast.record
    if forecast.call != "Neutral" and record is not None and record.hit_rate is not None:
        # a call stands only on a record of past forecasts like today's (engine.calibration)
        out.append(
            o["call_earned"].format(
                hit=pct(record.hit_rate),
                n=record.n,
                record_base=pct(record.base),
                call=forecast.call,
                confidence=forecast.confidence,
            )
        )
    else:
        out.append(o["call_low"].format(call=forecast.call, reason=why_low(forecast)))
    return out


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
    """The strategy line for the stance of the forecast that leads: the 5-day one, or
    tomorrow's when the 5-day forecast is Neutral and tomorrow's is not."""
    st = phrases()["strategy"]
    lead = state.next_5_days
    if lead.call == "Neutral" and state.tomorrow.call != "Neutral":
        lead = state.tomorrow
    entry = st[lead.stance]
    sentences = [str(entry["text"])]
    prices = _range_prices(state, lead)
    if prices is not None:
        sentences.append(str(entry["levels"]).format(span=st[f"span_{lead.horizon}"], **prices))
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
    return str(entry["title"]), " ".join(sentences)


def _range_prices(state: MarketState, lead: Forecast) -> dict[str, str] | None:
    """The range prices a strategy line may name: the leading forecast's 68% and 90%
    ends, and each horizon's 68% ends; None when a range is missing."""
    out: dict[str, str] = {}
    for key, f in (("", lead), ("_1", state.tomorrow), ("_5", state.next_5_days)):
        if f.move is None:
            return None
        for band in f.move.bands:
            level = f"{band.level * 100:.0f}"
            out[f"low{level}{key}"] = num(band.price_low)
            out[f"high{level}{key}"] = num(band.price_high)
    return out
