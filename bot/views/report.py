"""The text views of a MarketState, and the report in the playbook's format.

The header (market state, active signals, odds) is built from the state alone, so its
figures are exact whatever wrote the narrative. Layout lives in ``prompts/report.md``
and wording in ``prompts/report_phrases.toml``; figures are written by
:mod:`bot.views.fmt`. The offline narrator, the model prompts' checks, the Discord
embeds and the chat all use these views.
"""

from __future__ import annotations

import string
from functools import lru_cache
from typing import Any

import prompts
from bot.narrator.models import ForecastNarrative
from bot.views.fmt import NA, num, pct, pct_interval, signed_pct, usd
from engine.state import Forecast, HorizonStats, MarketState, RuleState, WarningCode


def phrases() -> dict[str, Any]:
    """The wording table (``prompts/report_phrases.toml``, cached)."""
    return prompts.table("report_phrases.toml")


@lru_cache(maxsize=1)
def _template() -> string.Template:
    return string.Template(prompts.text("report.md"))


def headline_horizon(rule: RuleState) -> int:
    """The horizon a rule is judged at: its claim's, else five days."""
    return rule.claim.horizon if rule.claim is not None else 5


def claim_text(stats: HorizonStats | None) -> str:
    """The playbook's claim in words: '86% win rate, +2.67% average'."""
    if stats is None:
        return ""
    parts = []
    if stats.claim_win_rate is not None:
        parts.append(f"{pct(stats.claim_win_rate)} win rate")
    if stats.claim_mean_return is not None:
        parts.append(f"{signed_pct(stats.claim_mean_return)} average")
    return ", ".join(parts)


def record_text(rule: RuleState, horizon: int | None = None) -> str:
    """A rule's measured record at a horizon, always with its sample size."""
    p = phrases()["render"]
    h = horizon or headline_horizon(rule)
    s = rule.stats_at(h)
    if s is None or s.n_fired == 0 or s.win_rate is None:
        return str(p["record_none"]).format(horizon=h)
    unit = phrases()["offline"]["unit_episodes"] if h > 1 else ""
    claim = claim_text(s)
    verdict = phrases()["verdicts"].get(s.verdict or "no claim", "")
    return str(p["record"]).format(
        horizon=h,
        win_rate=pct(s.win_rate),
        mean=signed_pct(s.mean_return),
        n=s.sample_size,
        unit=unit,
        ci=pct_interval(s.win_rate_ci),
        base=pct(s.base_win_rate),
        base_mean=signed_pct(s.base_mean_return),
        claim=p["claim"].format(claim=claim) if claim else "",
        verdict=verdict,
    )


def rsi_label(state: MarketState) -> str:
    """The RSI's zone in words, by the thresholds in the state's parameters."""
    labels = phrases()["rsi_labels"]
    rsi, prm = state.indicators.rsi14, state.params
    if rsi is None:
        return NA
    if rsi > prm.rsi_extreme:
        return str(labels["extreme_overbought"])
    if rsi >= prm.rsi_overbought:
        return str(labels["overbought"])
    if rsi <= prm.rsi_extreme_low:
        return str(labels["extreme_oversold"])
    if rsi <= prm.rsi_oversold:
        return str(labels["oversold"])
    return str(labels["neutral"])


def dark_pool_label(state: MarketState) -> str:
    labels = phrases()["dark_pool_labels"]
    dp = state.regime.dark_pool
    if dp.ratio is None:
        return NA
    if dp.ratio > 2 * dp.threshold - 1:
        return str(labels["strong"])
    if dp.ratio > dp.threshold:
        return str(labels["bullish"])
    if dp.ratio >= 1:
        return str(labels["neutral"])
    return str(labels["weak"])


def indicator_lines(state: MarketState) -> list[str]:
    p = phrases()["render"]
    ind, reg = state.indicators, state.regime
    lines = [p["rsi"].format(rsi=num(ind.rsi14, 1), label=rsi_label(state))]
    g = reg.gex
    if g.value is None:
        lines.append(p["gex_missing"])
    else:
        flip = p["gex_flip_up"] if g.flipped_positive else ""
        flip = p["gex_flip_down"] if g.flipped_negative else flip
        flip = p["gex_series_changed"] if g.series_changed else flip
        series = p["gex_series"].format(series=g.series) if g.series else ""
        lines.append(
            p["gex"].format(
                regime=g.regime.capitalize(), value=usd(g.value), flip=flip, series=series
            )
        )
    if g.flip_level is not None or g.call_wall is not None:
        lines.append(
            p["gex_levels"].format(
                flip=num(g.flip_level), call_wall=num(g.call_wall), put_wall=num(g.put_wall)
            )
        )
    v = reg.vix
    if v.level is None:
        lines.append(p["vix_missing"])
    else:
        lines.append(
            p["vix"].format(
                vix=num(v.level),
                regime="high" if v.regime == "high" else "normal",
                threshold=num(v.high_threshold, 0),
                mean=num(v.mean_10d),
            )
        )
    d = reg.dark_pool
    if d.ratio is None:
        lines.append(p["dark_pool_missing"])
    else:
        lines.append(p["dark_pool"].format(ratio=num(d.ratio), label=dark_pool_label(state)))
    sma200 = f", SMA200 {num(ind.sma200)}" if ind.sma200 is not None else ""
    lines.append(
        p["trend"].format(
            sma20=num(ind.sma20),
            sma50=num(ind.sma50),
            sma200=sma200,
            bb_lower=num(ind.bb_lower),
            bb_upper=num(ind.bb_upper),
        )
    )
    lines.append(
        p["volatility"].format(
            atr=num(ind.atr14), atr_pct=pct(ind.atr14_pct, 1), rv=pct(ind.realized_vol_20, 1)
        )
    )
    return lines


def signal_lines(state: MarketState) -> list[str]:
    p = phrases()["render"]
    fired = sorted(state.fired_rules, key=lambda r: (r.tier, r.name))
    if not fired:
        return [p["no_signals"]]
    return [
        p["signal"].format(tier=r.tier, name=r.name, signal=r.signal, record=record_text(r))
        for r in fired
    ]


def forecast_at(state: MarketState, horizon: int) -> Forecast:
    """The state's forecast for ``horizon`` trading days (1 or 5)."""
    return state.tomorrow if horizon == 1 else state.next_5_days


def why_low(forecast: Forecast) -> str:
    """Why the confidence is low, in one phrase ("" when it is not low)."""
    if forecast.confidence_reason is None:
        return ""
    return str(phrases()["why_low"][forecast.confidence_reason])


def odds_text(state: MarketState, horizon: int) -> str:
    """P(up) against the base rate, the confidence and, when low, why."""
    p = phrases()["render"]
    f = forecast_at(state, horizon)
    reason = why_low(f)
    return str(p["odds"]).format(
        prob=pct(f.prob_up),
        base=pct(f.base_rate),
        confidence=f.confidence,
        why=p["odds_why"].format(reason=reason) if reason else "",
    )


def range_text(forecast: Forecast) -> str:
    """The 68% and 90% ranges of the move, as prices and returns, with the sigma."""
    p = phrases()["render"]
    span = phrases()["spans"][f"h{forecast.horizon}"]
    move = forecast.move
    if move is None:
        return str(p["range_none"]).format(span=span)
    parts = []
    for band in move.bands:
        parts.append(
            p["range_band"].format(
                level=pct(band.level),
                low=num(band.price_low),
                high=num(band.price_high),
                return_low=signed_pct(band.return_low),
                return_high=signed_pct(band.return_high),
            )
        )
    return str(p["range"]).format(
        span=span,
        bands="; ".join(parts),
        sigma=pct(move.sigma, 2),
        model=move.model,
        quantiles=p["range_normal"] if move.quantiles == "normal" else "",
    )


def label_notes(forecast: Forecast) -> list[str]:
    """A sentence for each fired rule whose measured record disagrees with its label."""
    p = phrases()["render"]
    h = forecast.horizon
    out = []
    for d in forecast.drivers:
        if d.record_vs_label not in ("no better", "contradicts"):
            continue
        key = "label_contradicts" if d.record_vs_label == "contradicts" else "label_no_better"
        out.append(
            p[key].format(
                name=d.rule,
                direction=d.direction,
                span=phrases()["offline"][f"span_{h}"],
                verb=p["verb_bullish"] if d.direction == "bullish" else p["verb_bearish"],
                win_rate=pct(d.win_rate),
                n=d.n,
                unit=phrases()["offline"]["unit_episodes"] if h > 1 else "",
                base=pct(d.base_win_rate),
            )
        )
    return out


def forecast_details(state: MarketState, horizon: int) -> str:
    """The lines under a forecast's headline: its range, then the label-vs-record notes."""
    f = forecast_at(state, horizon)
    lines = [range_text(f), *(phrases()["render"]["label_note"].format(text=t)
                              for t in label_notes(f))]  # fmt: skip
    return "".join(f"{line}\n" for line in lines)


def key_levels_text(state: MarketState) -> str:
    """Tomorrow's key levels from the highest price to the lowest, the close among them."""
    p = phrases()["render"]
    if not state.key_levels:
        return str(p["levels_none"])
    close = state.latest.close
    items: list[str] = []
    marked = False
    for lv in state.key_levels:
        if not marked and lv.price < close:
            items.append(p["levels_close"].format(close=num(close)))
            marked = True
        sigma = (
            p["level_sigma"].format(sigma=num(lv.distance_sigma, 1))
            if lv.distance_sigma is not None
            else ""
        )
        items.append(
            p["level"].format(
                price=num(lv.price),
                name=lv.name,
                distance=signed_pct(lv.distance),
                sigma=sigma,
            )
        )
    if not marked:
        items.append(p["levels_close"].format(close=num(close)))
    return str(p["levels_separator"]).join(items)


def provenance_text(state: MarketState) -> str:
    p = phrases()["render"]
    items = []
    for prov in state.provenance:
        if prov.rows == 0:
            continue
        stale = p["stale"].format(days=prov.stale_days) if (prov.stale_days or 0) > 1 else ""
        items.append(
            p["provenance_item"].format(
                series=prov.series, source=prov.source, last=prov.last_date, stale=stale
            )
        )
    return "; ".join(items)


def notes_block(state: MarketState, notes: tuple[str, ...]) -> str:
    p = phrases()["render"]
    lines = [p["note"].format(text=n) for n in notes]
    lines += [
        p["warning"].format(text=w.text)
        for w in state.warnings
        if w.code != WarningCode.SYNTHETIC  # the banner says it already
    ]
    return "\n".join([p["notes_header"], *lines]) if lines else ""


def render_report(
    state: MarketState, narrative: ForecastNarrative, notes: tuple[str, ...] = ()
) -> str:
    """The full report in the playbook's format (Markdown, fits a terminal and Discord)."""
    p = phrases()["render"]
    change = ""
    if state.latest.change_pct is not None:
        change = p["change"].format(change=signed_pct(state.latest.change_pct))
    return (
        _template()
        .substitute(
            ticker=state.ticker,
            as_of=state.as_of.isoformat(),
            banner=p["banner"] if state.synthetic else "",
            close=num(state.latest.close),
            trend=state.indicators.trend,
            change=change,
            indicators="\n".join(indicator_lines(state)),
            signals="\n".join(signal_lines(state)),
            immediate_call=narrative.immediate_call,
            immediate_odds=odds_text(state, 1),
            immediate_details=forecast_details(state, 1),
            immediate_assessment=narrative.immediate_assessment,
            five_day_flavour=narrative.five_day_flavour,
            five_day_odds=odds_text(state, 5),
            five_day_details=forecast_details(state, 5),
            key_levels=key_levels_text(state),
            five_day_rationale=narrative.five_day_rationale,
            strategy_title=narrative.strategy_title.rstrip("."),
            strategy=narrative.strategy,
            notes=notes_block(state, notes),
            provenance=provenance_text(state),
        )
        .strip()
        + "\n"
    )
