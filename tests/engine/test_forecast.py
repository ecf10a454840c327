"""The forecast aggregation on hand-built rule records."""

from __future__ import annotations

from engine.forecast import PRIOR_STRENGTH, make_forecast
from engine.state import EngineParams, HorizonStats, RuleState

PARAMS = EngineParams()


def rule(
    name: str,
    *,
    tier: int = 1,
    fired: bool = True,
    n: int = 100,
    win: float = 0.7,
    base: float = 0.55,
    direction: str = "bullish",
) -> RuleState:
    stats = HorizonStats(
        horizon=5,
        n_fired=n,
        n_episodes=n,
        wins=int(win * n),
        win_rate=win if n else None,
        base_n=2000,
        base_win_rate=base,
    )
    return RuleState(
        name=name,
        tier=tier,
        direction=direction,
        signal="s",
        rationale="r",  # type: ignore[arg-type]
        fired=fired,
        available=True,
        stats=(stats,),
    )


def test_nothing_fired_is_the_base_rate() -> None:
    f = make_forecast([rule("A", fired=False)], 5, PARAMS, {})
    assert f.prob_up == 0.55 and f.call == "Neutral" and not f.drivers
    assert "no rule fired" in f.method


def test_strong_rule_with_history_moves_the_call() -> None:
    f = make_forecast([rule("A", n=200, win=0.75)], 5, PARAMS, {"A": "Bullish Trend"})
    assert f.call == "Bullish" and f.flavour == "Bullish Trend"
    assert f.prob_up > 0.7 and f.confidence == "high"
    assert f.drivers[0].n == 200


def test_no_history_cannot_move_the_forecast() -> None:
    f = make_forecast([rule("A", n=0)], 5, PARAMS, {})
    assert f.prob_up == 0.55 and f.call == "Neutral"


def test_shrinkage_grows_with_sample_size() -> None:
    probs = [
        make_forecast([rule("A", n=n, win=0.7)], 5, PARAMS, {}).prob_up for n in (5, 20, 80, 320)
    ]
    assert probs == sorted(probs)
    expected = (0.7 * 20 + PRIOR_STRENGTH * 0.55) / (20 + PRIOR_STRENGTH)
    assert make_forecast([rule("A", n=20, win=0.7)], 5, PARAMS, {}).drivers[
        0
    ].shrunk_prob_up == round(expected, 4)


def test_tier_weights_order() -> None:
    probs = [make_forecast([rule("A", tier=t)], 5, PARAMS, {}).prob_up for t in (1, 2, 3)]
    assert probs[0] > probs[1] > probs[2] > 0.55


def test_bearish_rule_pushes_down_and_weak_bullish_rule_can_be_bearish() -> None:
    # A bearish rule's win is a fall; its record's base win rate is P(down).
    down = make_forecast([rule("B", direction="bearish", win=0.7, base=0.45)], 5, PARAMS, {})
    assert down.call == "Bearish" and down.prob_up < 0.55
    weak = make_forecast([rule("A", n=300, win=0.40)], 5, PARAMS, {})
    assert weak.call == "Bearish"
