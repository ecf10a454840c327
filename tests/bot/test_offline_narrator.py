"""Offline narrator on hand-altered states: every stance, no signals, missing series."""

from __future__ import annotations

from bot.narrator import make_report
from bot.narrator.grounding import check_text
from bot.narrator.offline import OfflineNarrator
from bot.views.fmt import num
from engine.state import (
    Forecast,
    GexRegime,
    Interval,
    MarketState,
    Record,
    Regime,
    stance_of,
)


def _with_calls(
    state: MarketState, call: str, confidence: str, flavour: str = "", prob: float = 0.6
) -> MarketState:
    """The same state with both forecasts set to ``call`` at ``confidence``, backed by a
    record of past forecasts like today's (as the engine requires for a call)."""

    def alter(f: Forecast) -> Forecast:
        record = Record(
            lean="down" if call == "Bearish" else "up",
            n=120,
            n_eff=120.0,
            hit_rate=0.61,
            base=0.53,
            interval=Interval(low=0.52, high=0.69),
        )
        return f.model_copy(
            update={
                "call": call,
                "confidence": confidence,
                "stance": stance_of(call, confidence),  # type: ignore[arg-type]
                "confidence_reason": None if confidence != "low" else "record_not_clear",
                "flavour": flavour or call,
                "prob_up": prob,
                "record": record if call != "Neutral" else None,
            }
        )

    return state.model_copy(
        update={"tomorrow": alter(state.tomorrow), "next_5_days": alter(state.next_5_days)}
    )


def _text(state: MarketState) -> str:
    return make_report(state, OfflineNarrator().narrate(state)).text


def _band(state: MarketState, level: float, horizon: int = 5) -> tuple[str, str]:
    f = state.tomorrow if horizon == 1 else state.next_5_days
    assert f.move is not None
    band = f.move.band(level)
    assert band is not None
    return num(band.price_low), num(band.price_high)


def test_bullish_medium_leans_long_with_the_range_low(demo_state: MarketState) -> None:
    state = _with_calls(demo_state, "Bullish", "medium", "Bullish Trend")
    narrative = OfflineNarrator().write(state)
    assert narrative.immediate_call == "Bullish"
    assert narrative.five_day_flavour == "Bullish Trend"
    assert narrative.strategy_title == "Lean Long, Modest Size"
    assert _band(state, 0.68)[0] in narrative.strategy
    assert "went the lean's way 61% of 120 times" in narrative.five_day_rationale
    text = _text(state)
    assert "Bullish Trend" in text
    assert check_text(text, state) == []


def test_bullish_high_adds_with_a_stop_below_the_90_range(demo_state: MarketState) -> None:
    state = _with_calls(demo_state, "Bullish", "high", "Bullish Trend")
    narrative = OfflineNarrator().write(state)
    assert narrative.strategy_title == "Bullish: Add Exposure"
    assert _band(state, 0.90)[0] in narrative.strategy
    assert check_text(_text(state), state) == []


def test_strategy_scales_with_confidence_on_a_bearish_call(demo_state: MarketState) -> None:
    strong = OfflineNarrator().write(_with_calls(demo_state, "Bearish", "high", prob=0.41))
    assert strong.strategy_title == "Play Defence"
    assert "Trim longs or hedge" in strong.strategy
    medium = OfflineNarrator().write(_with_calls(demo_state, "Bearish", "medium", prob=0.41))
    assert medium.strategy_title == "Lean Defensive" and "Trim" not in medium.strategy
    low_state = _with_calls(demo_state, "Bearish", "low", prob=0.41)
    low = OfflineNarrator().write(low_state)
    assert low.strategy_title == "Slight Downward Lean"
    assert "hedge" not in low.strategy.lower() and "trim" not in low.strategy.lower()
    assert "no change to positions" in low.strategy
    assert check_text(_text(low_state), low_state) == []


def test_tomorrows_call_leads_when_the_5_day_one_is_neutral(demo_state: MarketState) -> None:
    state = _with_calls(demo_state, "Bullish", "medium")
    state = state.model_copy(
        update={"next_5_days": _with_calls(demo_state, "Neutral", "low").next_5_days}
    )
    narrative = OfflineNarrator().write(state)
    assert narrative.strategy_title == "Lean Long, Modest Size"
    assert f"For tomorrow that low is {_band(state, 0.68, 1)[0]}" in narrative.strategy
    assert check_text(_text(state), state) == []


def test_neutral_without_signals_falls_back_to_base_rate(demo_state: MarketState) -> None:
    rules = tuple(r.model_copy(update={"fired": False}) for r in demo_state.rules)
    state = _with_calls(demo_state, "Neutral", "low", prob=demo_state.next_5_days.base_rate)
    state = state.model_copy(
        update={
            "rules": rules,
            "tomorrow": state.tomorrow.model_copy(update={"drivers": (), "cell": ()}),
            "next_5_days": state.next_5_days.model_copy(update={"drivers": (), "cell": ()}),
        }
    )
    narrative = OfflineNarrator().write(state)
    assert narrative.strategy_title == "No Edge: Trade the Range"
    low68, high68 = _band(state, 0.68, 1)
    assert f"Tomorrow's 68% range is {low68} to {high68}" in narrative.strategy
    assert "base rate" in narrative.five_day_rationale
    text = _text(state)
    assert "(TRUE)" not in text
    assert check_text(text, state) == []


def test_a_low_confidence_day_says_why(demo_state: MarketState) -> None:
    f = demo_state.tomorrow
    assert f.call == "Neutral" and f.confidence == "low" and f.confidence_reason is not None
    narrative = OfflineNarrator().write(demo_state)
    assert "Neutral, with low confidence: " in narrative.immediate_assessment


def test_missing_gex_series_is_not_invented(demo_state: MarketState) -> None:
    assert "Dealer gamma" in OfflineNarrator().write(demo_state).five_day_rationale
    vix, dark_pool = demo_state.regime.vix, demo_state.regime.dark_pool
    regime = Regime(vix=vix, gex=GexRegime(), dark_pool=dark_pool)
    state = demo_state.model_copy(update={"regime": regime})
    narrative = OfflineNarrator().write(state)
    assert "Dealer gamma" not in narrative.five_day_rationale
    assert "GEX:** no data" in _text(state)
    assert check_text(_text(state), state) == []


def test_narrative_is_deterministic(demo_state: MarketState) -> None:
    assert OfflineNarrator().write(demo_state) == OfflineNarrator().write(demo_state)
