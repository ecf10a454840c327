"""Offline narrator on hand-altered states: bullish, bearish, neutral, missing series."""

from __future__ import annotations

from bot.narrator import make_report
from bot.narrator.grounding import check_text
from bot.narrator.offline import OfflineNarrator
from engine.state import Forecast, GexRegime, MarketState, Regime


def _with_calls(state: MarketState, call: str, flavour: str, prob: float) -> MarketState:
    """The same state with both forecasts forced to ``call`` and no drivers."""

    def alter(f: Forecast) -> Forecast:
        return f.model_copy(update={"call": call, "flavour": flavour, "prob_up": prob})

    return state.model_copy(
        update={"tomorrow": alter(state.tomorrow), "next_5_days": alter(state.next_5_days)}
    )


def _text(state: MarketState) -> str:
    return make_report(state, OfflineNarrator().narrate(state)).text


def test_bullish_state(demo_state: MarketState) -> None:
    state = _with_calls(demo_state, "Bullish", "Bullish Trend", 0.62)
    narrative = OfflineNarrator().write(state)
    assert narrative.immediate_call == "Bullish"
    assert narrative.five_day_flavour == "Bullish Trend"
    assert narrative.strategy_title in {"Ride the Momentum", "Buy Weakness, Size Down"}
    text = _text(state)
    assert "Bullish Trend" in text
    assert check_text(text, state) == []


def test_bullish_in_negative_gamma_sizes_down(demo_state: MarketState) -> None:
    gex = demo_state.regime.gex.model_copy(update={"regime": "negative", "value": -1.2e9})
    regime = demo_state.regime.model_copy(update={"gex": gex})
    state = _with_calls(demo_state, "Bullish", "Bullish Trend", 0.62).model_copy(
        update={"regime": regime}
    )
    narrative = OfflineNarrator().write(state)
    assert narrative.strategy_title == "Buy Weakness, Size Down"
    assert check_text(_text(state), state) == []


def test_bearish_state(demo_state: MarketState) -> None:
    state = _with_calls(demo_state, "Bearish", "Bearish Pullback", 0.41)
    narrative = OfflineNarrator().write(state)
    assert narrative.five_day_call == "Bearish"
    assert narrative.strategy_title == "Play Defence"
    assert check_text(_text(state), state) == []


def test_neutral_without_signals_falls_back_to_base_rate(demo_state: MarketState) -> None:
    rules = tuple(r.model_copy(update={"fired": False}) for r in demo_state.rules)
    state = _with_calls(demo_state, "Neutral", "Neutral", demo_state.next_5_days.base_rate)
    state = state.model_copy(
        update={
            "rules": rules,
            "tomorrow": state.tomorrow.model_copy(update={"drivers": ()}),
            "next_5_days": state.next_5_days.model_copy(update={"drivers": ()}),
        }
    )
    narrative = OfflineNarrator().write(state)
    assert narrative.strategy_title == "No Edge: Stay Nimble"
    assert "base rate" in narrative.five_day_rationale
    text = _text(state)
    assert "(TRUE)" not in text
    assert check_text(text, state) == []


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
