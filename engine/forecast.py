"""From the rules that fire today to a call and a probability, deterministically.

For a horizon ``h`` (1 or 5 trading days):

1. **Base rate** ``b``: the share of all days, up to the as-of date, whose ``h``-day
   forward return was positive (point-in-time, from the rules' measured records).
2. **Each fired rule** ``i`` gives an estimate of P(up) from its measured record, *shrunk*
   toward the base rate with a beta-binomial prior of ``PRIOR_STRENGTH`` pseudo-days:
   ``p_i = (wins_i + k*b) / (n_i + k)``, where ``n_i`` is the rule's effective sample size
   (independent episodes at 5 days, where windows overlap) and ``wins_i = win_rate_i *
   n_i``. A rule with no history gives ``p_i = b``: it cannot move the forecast. For a
   bearish rule a "win" is a fall, so its P(up) is ``1 - p_i``.
3. **Combine** in log-odds around the base rate with tier weights
   (:data:`TIER_WEIGHTS`): ``logit(P) = logit(b) + sum_i w_tier(i) * (logit(p_i) -
   logit(b))``, clipped to [0.02, 0.98].
4. **Call**: Bullish when ``P >= b + call_band``, Bearish when ``P <= b - call_band``,
   Neutral otherwise. The flavour is the playbook wording of the rule that moved the
   forecast most in the call's direction.
5. **Confidence**: high when ``|P - b| >= high_confidence_edge`` on at least
   ``high_confidence_n`` effective cases in total, medium when ``|P - b| >= call_band``
   on at least ``medium_confidence_n``, low otherwise (thresholds in
   :class:`engine.state.EngineParams`).

With nothing firing, ``P = b`` and the call is Neutral.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

from engine.state import Call, Confidence, Driver, EngineParams, Forecast, RuleState

PRIOR_STRENGTH: Final = 20.0
TIER_WEIGHTS: Final[Mapping[int, float]] = {1: 1.0, 2: 0.6, 3: 0.35}
P_MIN, P_MAX = 0.02, 0.98


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def base_rate(rules: Sequence[RuleState], horizon: int) -> tuple[float, int]:
    """The unconditional P(r_h > 0) and its day count, from any rule's record."""
    for rule in rules:
        s = rule.stats_at(horizon)
        if s is not None and s.base_win_rate is not None and s.base_n > 0:
            # a bearish rule's "win" is a fall, so its base win rate is P(r_h < 0)
            up = s.base_win_rate if rule.direction == "bullish" else 1.0 - s.base_win_rate
            return up, s.base_n
    return 0.5, 0


def make_forecast(
    rules: Sequence[RuleState],
    horizon: int,
    params: EngineParams,
    flavours: Mapping[str, str],
) -> Forecast:
    """The forecast for ``horizon`` days from the (already measured) rule states."""
    base, base_n = base_rate(rules, horizon)
    logit_b = _logit(base)
    total = logit_b
    drivers: list[Driver] = []
    n_total = 0
    for rule in rules:
        if not rule.fired:
            continue
        s = rule.stats_at(horizon)
        n = s.sample_size if s is not None else 0
        win_rate = s.win_rate if s is not None else None
        wins = (win_rate or 0.0) * n
        prior = base if rule.direction == "bullish" else 1.0 - base
        p_win = (wins + PRIOR_STRENGTH * prior) / (n + PRIOR_STRENGTH)
        p_up = p_win if rule.direction == "bullish" else 1.0 - p_win
        weight = TIER_WEIGHTS.get(rule.tier, 0.35)
        total += weight * (_logit(p_up) - logit_b)
        n_total += n
        drivers.append(
            Driver(
                rule=rule.name,
                tier=rule.tier,
                direction=rule.direction,
                weight=weight,
                n=n,
                win_rate=win_rate,
                shrunk_prob_up=round(p_up, 4),
            )
        )
    prob = min(max(_sigmoid(total), P_MIN), P_MAX)
    edge = prob - base
    call: Call
    if edge >= params.call_band:
        call = "Bullish"
    elif edge <= -params.call_band:
        call = "Bearish"
    else:
        call = "Neutral"
    flavour = _flavour(call, drivers, flavours, logit_b)
    confidence: Confidence = "low"
    if abs(edge) >= params.high_confidence_edge and n_total >= params.high_confidence_n:
        confidence = "high"
    elif abs(edge) >= params.call_band and n_total >= params.medium_confidence_n:
        confidence = "medium"
    if drivers:
        method = (
            f"{len(drivers)} fired rule(s), each shrunk toward the {horizon}-day base rate "
            f"with {PRIOR_STRENGTH:.0f} pseudo-days and combined in log-odds with tier weights"
        )
    else:
        method = f"no rule fired: the {horizon}-day base rate, unchanged"
    return Forecast(
        horizon=horizon,
        call=call,
        flavour=flavour,
        prob_up=round(prob, 4),
        base_rate=round(base, 4),
        base_n=base_n,
        confidence=confidence,
        drivers=tuple(drivers),
        method=method,
    )


def _flavour(
    call: Call, drivers: Sequence[Driver], flavours: Mapping[str, str], logit_b: float
) -> str:
    if call == "Neutral":
        return "Neutral"
    sign = 1.0 if call == "Bullish" else -1.0
    best: tuple[float, str] | None = None
    for d in drivers:
        push = sign * d.weight * (_logit(d.shrunk_prob_up) - logit_b)
        if push > 0 and (best is None or push > best[0]):
            best = (push, d.rule)
    if best is None:
        return call
    wording = flavours.get(best[1], call)
    return wording if wording.lower().startswith(call.lower()) or call == "Bullish" else call
