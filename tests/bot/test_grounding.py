"""The grounding check by meaning, on the demo state (runs without the real data files).

Sentences are built from the state's own figures, so each test states a true sentence
and a false twin that differs in one meaning: whose figure, which horizon, measured or
claimed, which date, which regime, which rule fired, which direction.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.narrator.grounding import check_narrative, check_text, repair_lines
from bot.narrator.llm import repair_message
from bot.narrator.offline import OfflineNarrator
from bot.views.fmt import pct
from engine.state import MarketState


def checks(text: str, state: MarketState) -> list[str]:
    return [p.check for p in check_text(text, state)]


def _rule_rate(state: MarketState, name: str, horizon: int) -> str:
    s = state.rule(name).stats_at(horizon)  # type: ignore[union-attr]
    assert s is not None and s.win_rate is not None
    return pct(s.win_rate, 1)


def _n(state: MarketState, name: str, horizon: int) -> str:
    s = state.rule(name).stats_at(horizon)  # type: ignore[union-attr]
    assert s is not None
    return f"(n={s.n_fired})"


def test_a_rules_figure_is_only_that_rules(demo_state: MarketState) -> None:
    rsi1 = _rule_rate(demo_state, "RSI_Extreme", 1)
    golden1 = _rule_rate(demo_state, "Golden_Setup", 1)
    assert rsi1 != golden1
    n = _n(demo_state, "RSI_Extreme", 1)
    true = f"RSI_Extreme closed higher the next day {rsi1} of the time {n}."
    assert checks(true, demo_state) == []
    wrong = check_text(f"Golden_Setup closed higher the next day {rsi1} of the time.", demo_state)
    assert [p.check for p in wrong] == ["number"] and "RSI_Extreme" in wrong[0].detail


def test_a_figure_is_only_at_its_horizon(demo_state: MarketState) -> None:
    one, five = _rule_rate(demo_state, "Golden_Setup", 1), _rule_rate(demo_state, "Golden_Setup", 5)
    n = _n(demo_state, "Golden_Setup", 5)
    assert checks(f"Over five days Golden_Setup was up {five} of the time {n}.", demo_state) == []
    assert checks(f"Over five days Golden_Setup was up {one} of the time.", demo_state) == [
        "number"
    ]


def test_a_measured_rate_needs_its_sample_size(demo_state: MarketState) -> None:
    """A true rate without its n passes the figure check but leaves a false impression
    (a local model wrote "a 100.0% win rate over 5 days" of one independent episode)."""
    five = _rule_rate(demo_state, "RSI_Extreme", 5)
    stats = demo_state.rule("RSI_Extreme").stats_at(5)  # type: ignore[union-attr]
    assert stats is not None
    bare = check_text(f"Over five days RSI_Extreme was up {five} of the time.", demo_state)
    assert [p.check for p in bare] == ["sample"]
    assert f"(n={stats.n_fired})" in bare[0].instead
    assert f"{stats.n_episodes} independent episodes" in bare[0].instead
    for sized in (f"(n={stats.n_fired})", f"across {stats.n_episodes} independent episodes"):
        text = f"Over five days RSI_Extreme was up {five} of the time {sized}."
        assert checks(text, demo_state) == [], sized
    # base rates, forecasts and intervals are not a rule's measured rate
    base = pct(stats.base_win_rate, 1)
    assert checks(f"Over five days IWM rose {base} of the time on all days.", demo_state) == []


def test_a_claim_is_never_a_measurement(demo_state: MarketState) -> None:
    assert checks("The playbook claims a 72% win rate for Golden_Setup.", demo_state) == []
    assert checks("Golden_Setup's 72% claim does not hold.", demo_state) == []
    assert checks("Golden_Setup wins 72% of the time over five days.", demo_state) == ["claim"]


def test_dates_in_words_are_read_and_checked(demo_state: MarketState) -> None:
    day = demo_state.as_of
    words = f"{day:%B} {day.day}, {day.year}"
    assert checks(f"As of {words}, RSI_Extreme is active.", demo_state) == []
    assert checks(f"As of {day.isoformat()}, RSI_Extreme is active.", demo_state) == []
    earlier = day - dt.timedelta(days=3)
    assert checks(f"As of {earlier:%B} {earlier.day}, {earlier.year}, IWM rose.", demo_state) == [
        "date"
    ]


def test_thresholds_only_where_a_threshold_is_meant(demo_state: MarketState) -> None:
    rsi = demo_state.indicators.rsi14
    assert rsi is not None and rsi > 75
    assert checks(f"RSI at {rsi:.1f} is above the 75 line.", demo_state) == []
    assert checks("RSI is below the 75 line.", demo_state) == ["regime"]
    assert checks("RSI stands at 75.", demo_state) == ["number"]  # a bound, not a reading


def test_statements_about_rules_and_regimes(demo_state: MarketState) -> None:
    fired = {r.name for r in demo_state.fired_rules}
    assert "RSI_Extreme" in fired and "Golden_Setup" not in fired
    assert checks("RSI_Extreme is active today.", demo_state) == []
    assert checks("Golden_Setup fired today.", demo_state) == ["fired"]
    assert checks("Golden_Setup last fired on " + str(demo_state.rule("Golden_Setup").last_fired)
                  + ".", demo_state) == []  # fmt: skip
    assert demo_state.regime.gex.regime == "positive"
    assert checks("Dealer gamma is negative.", demo_state) == ["regime"]
    assert checks("Dealer gamma is positive.", demo_state) == []
    assert checks("Golden_Setup's claim holds on this data.", demo_state) == ["verdict"]


def test_narrative_fields_and_strategy_direction(demo_state: MarketState) -> None:
    good = OfflineNarrator().write(demo_state)
    assert check_narrative(good, demo_state) == []
    flavour = good.model_copy(update={"five_day_flavour": good.five_day_flavour + " Trend"})
    assert [p.check for p in check_narrative(flavour, demo_state)] == ["call"]
    listed = good.model_copy(update={"fired_rules_mentioned": ("Golden_Setup",)})
    assert [p.check for p in check_narrative(listed, demo_state)] == ["fired"]
    calls = {demo_state.tomorrow.call, demo_state.next_5_days.call}
    against = "Buy the dip and add to longs." if "Bullish" not in calls else "Trim longs and hedge."
    contrary = good.model_copy(update={"strategy": against})
    assert "direction" in [p.check for p in check_narrative(contrary, demo_state)]
    negated = good.model_copy(update={"strategy": "Avoid buying strength; no new risk."})
    assert check_narrative(negated, demo_state) == []


def test_repair_quotes_the_sentence_and_says_what_the_state_holds(
    demo_state: MarketState,
) -> None:
    rate = _rule_rate(demo_state, "RSI_Extreme", 1)
    sentence = f"Golden_Setup closed higher the next day {rate} of the time."
    problems = check_text(sentence, demo_state)
    lines = repair_lines(problems)
    assert f'"{sentence}"' in lines and "The state holds:" in lines and "Golden_Setup" in lines
    message = repair_message(problems, demo_state)
    assert sentence in message and "YYYY-MM-DD" in message
    assert demo_state.as_of.isoformat() in message


@pytest.mark.parametrize("approx", ["about ", "roughly ", ""])
def test_rounding_and_approximate_words(demo_state: MarketState, approx: str) -> None:
    close = demo_state.latest.close
    assert checks(f"IWM closed at {approx}{close:.1f}.", demo_state) == []
    assert checks(f"IWM closed at {approx}{close + 3:.1f}.", demo_state) == ["number"]


def test_redact_keeps_the_sentences_that_passed(demo_state: MarketState) -> None:
    from bot.narrator.grounding import redact

    good = OfflineNarrator().write(demo_state)
    false = "Golden_Setup fired today."
    draft = good.model_copy(
        update={"five_day_rationale": f"{good.five_day_rationale} {false}", "five_day_call": "x"}
    )
    problems = check_narrative(draft, demo_state)
    assert {p.check for p in problems} == {"call", "fired"}
    trimmed = redact(draft, problems, demo_state)
    assert trimmed is not None and false not in trimmed.five_day_rationale
    assert "`" in trimmed.five_day_rationale  # markdown kept
    assert trimmed.five_day_call == demo_state.next_5_days.call
    assert check_narrative(trimmed, demo_state) == []
    only_false = draft.model_copy(update={"strategy": false})
    assert redact(only_false, check_narrative(only_false, demo_state), demo_state) is None
