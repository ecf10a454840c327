"""The forecast pipeline on synthetic markets: nesting, planted edges, noise, one row."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from engine.build import build_state
from engine.demo import demo_dataset
from engine.forecast import driver, flavour
from engine.state import EngineParams, Forecast, HorizonStats, Interval, RuleState, stance_of
from tests.engine import synth

WARMUP = 250


def test_nothing_fired_is_the_base_rate_exactly() -> None:
    rng = np.random.default_rng(42)
    daily = synth.frame(synth.closes(rng.normal(0.0003, 0.012, 1500)))
    rule = synth.markov_fires(rng, 1500, 0.2, 0.7)
    arrays = synth.run(daily, [rule])
    for a in arrays.horizons.values():
        quiet = ~rule
        assert np.array_equal(a.p[quiet], a.base[quiet])
        assert np.array_equal(a.p_raw[quiet], a.base[quiet])
        assert (a.se[quiet] == 0).all() and (a.decisions.call[quiet] == 0).all()
        late = quiet & (a.base_n >= EngineParams().min_history)
        assert (a.decisions.reason[late] == 2).all()  # "no_rule_fired"


def test_nested_rules_give_the_narrow_rules_own_record() -> None:
    """A narrow rule that always fires with a broad one: adding the broad rule to the
    playbook leaves the narrow rule's days exactly as they were (its cell is its own),
    and the calibrated P is exactly b + kappa (P_raw - b), as documented."""
    rng = np.random.default_rng(42)
    n = 3000
    daily = synth.frame(synth.closes(rng.normal(0.0003, 0.012, n)))
    broad = synth.markov_fires(rng, n, 0.25, 0.8)
    narrow = broad & (rng.random(n) < 0.4)
    other = synth.markov_fires(rng, n, 0.1, 0.5)
    alone = synth.run(daily, [narrow, other], ["narrow", "other"])
    both = synth.run(daily, [narrow, broad, other], ["narrow", "broad", "other"])
    for h in (1, 5):
        a, b = alone.horizons[h], both.horizons[h]
        assert np.array_equal(a.p_raw[narrow], b.p_raw[narrow])
        assert np.array_equal(a.cell.n_eff[narrow], b.cell.n_eff[narrow])
        assert np.array_equal(b.p, b.base + b.kappa * (b.p_raw - b.base))
        # the broad-only days are a cell of their own, not the narrow rule's
        broad_only = broad & ~narrow & ~other
        assert not np.array_equal(b.p_raw[broad_only], a.p_raw[broad_only])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_edge_is_found_calibrated_and_earns_high(seed: int) -> None:
    daily, edge, noise = synth.planted(seed)
    a = synth.run(daily, [edge, noise]).horizons[1]
    late = edge & (np.arange(edge.size) >= 4000)
    assert np.mean(a.decisions.call[late] == 1) > 0.75
    assert np.mean(a.decisions.confidence[late] == 2) > 0.75
    last = np.flatnonzero(edge)[-1]
    assert 0.6 < a.p[last] < 0.72  # the planted 0.65, found and calibrated
    assert a.kappa[-1] > 0.6
    assert a.decisions.call[~edge].min() >= 0  # never a Bearish call on this market


def test_pure_noise_rules_stay_neutral_and_low() -> None:
    """Four clustered rules with no edge (one nested in another), many seeds: Neutral at
    low confidence on at least 95% of days for every seed and horizon."""
    shares = []
    for seed in range(60):
        rng = np.random.default_rng(1000 + seed)
        n = 2500
        daily = synth.frame(synth.closes(rng.normal(0.0003, 0.012, n)))
        f1 = synth.markov_fires(rng, n, 0.2, 0.8)
        rules = [
            f1,
            f1 & (rng.random(n) < 0.5),
            synth.markov_fires(rng, n, 0.1, 0.5),
            synth.markov_fires(rng, n, 0.05, 0.9),
        ]
        for a in synth.run(daily, rules).horizons.values():
            quiet = (a.decisions.call == 0) & (a.decisions.confidence == 0)
            shares.append(quiet[WARMUP:].mean())
    assert min(shares) >= 0.95
    assert np.mean(shares) > 0.99


def test_a_short_history_never_calls() -> None:
    daily, edge, noise = synth.planted(0, n=240)
    for a in synth.run(daily, [edge, noise]).horizons.values():
        assert (a.decisions.call == 0).all() and (a.decisions.confidence == 0).all()
        assert (a.decisions.reason[a.base_n < 250] == 1).all()  # "short_history"


def _rule(win: float, low: float, high: float, *, direction: str = "bullish") -> RuleState:
    stats = HorizonStats(
        horizon=1,
        n_fired=80,
        n_episodes=80,
        wins=int(win * 80),
        win_rate=win,
        win_rate_ci=Interval(low=low, high=high),
        base_n=3000,
        base_win_rate=0.53,
    )
    return RuleState(
        name="R", tier=3, direction=direction, signal="s", rationale="r",  # type: ignore[arg-type]
        fired=True, available=True, stats=(stats,),
    )  # fmt: skip


def test_label_against_record() -> None:
    assert driver(_rule(0.60, 0.49, 0.70), 1).record_vs_label == "agrees"
    assert driver(_rule(0.48, 0.37, 0.59), 1).record_vs_label == "no better"
    assert driver(_rule(0.37, 0.27, 0.47), 1).record_vs_label == "contradicts"
    assert driver(_rule(0.37, 0.27, 0.47), 5).record_vs_label == "no record"


def test_a_bullish_rule_never_names_a_bearish_call() -> None:
    bull = driver(_rule(0.37, 0.27, 0.47), 1)
    assert flavour("Bearish", [bull], {"R": "Bullish Momentum"}) == "Bearish"
    assert flavour("Bullish", [bull], {"R": "Bullish Momentum"}) == "Bullish Momentum"
    assert flavour("Neutral", [bull], {"R": "Bullish Momentum"}) == "Neutral"


def test_stance_follows_call_and_confidence() -> None:
    base = {"horizon": 1, "flavour": "x", "prob_up": 0.6, "base_rate": 0.53, "base_n": 900,
            "method": "m"}  # fmt: skip
    f = Forecast(**base, call="Bullish", confidence="low")  # type: ignore[arg-type]
    assert f.stance == "slight_up" == stance_of("Bullish", "low")
    assert stance_of("Bearish", "high") == "defensive"
    assert stance_of("Neutral", "low") == "no_edge"
    with pytest.raises(ValueError, match="stance"):
        Forecast(**base, call="Bullish", confidence="low", stance="bullish")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Neutral"):
        Forecast(**base, call="Neutral", confidence="high")  # type: ignore[arg-type]


def test_the_state_reads_its_row_of_the_pipeline() -> None:
    from engine.build import prepare, state_at

    prepared = prepare(demo_dataset())
    day = dt.date(2024, 6, 3)
    state = state_at(prepared, day)
    pos = int(prepared.dates.searchsorted(np.datetime64(day)))
    for f in (state.tomorrow, state.next_5_days):
        a = prepared.forecast.horizons[f.horizon]
        assert f.prob_up == round(float(a.p[pos]), 4)
        assert f.base_rate == round(float(a.base[pos]), 4)
        assert f.stance == stance_of(f.call, f.confidence)
        assert set(f.cell) == {r.name for r in state.fired_rules}
        assert f.move is not None and f.move.horizon == f.horizon
        b68, b90 = f.move.band(0.68), f.move.band(0.90)
        assert b68 is not None and b90 is not None
        assert b90.price_low < b68.price_low < state.latest.close < b68.price_high < b90.price_high
        assert b68.price_low == pytest.approx(state.latest.close * (1 + b68.return_low), abs=0.02)
    assert build_state(demo_dataset(), as_of=day) == state
