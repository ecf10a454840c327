"""Playbook rules made in a line, for tests that only need a name, tier and claims."""

from __future__ import annotations

from collections.abc import Mapping

from engine.rules import Condition, RuleSpec
from engine.state import Direction, RuleClaim


def spec(
    name: str,
    tier: int,
    direction: Direction,
    claims: Mapping[int, tuple[float | None, float | None]] | None = None,
) -> RuleSpec:
    """A rule with ``claims`` as ``{horizon: (win rate, mean return)}`` (fractions)."""
    return RuleSpec(
        name=name,
        tier=tier,
        direction=direction,
        signal="test signal",
        nickname=None,
        flavour=direction.capitalize(),
        rationale="made for a test",
        claims=tuple(
            RuleClaim(horizon=h, win_rate=w, mean_return=m) for h, (w, m) in (claims or {}).items()
        ),
        when=(Condition(left="close", op=">", right=0.0),),
    )
