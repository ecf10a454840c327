"""Narrators turn a MarketState into prose: an offline template or a language model.

Every narrator implements :class:`Narrator`. The engine decides the calls; a narrator
only explains them, and every number it writes must come from the state
(:mod:`bot.narrator.grounding`).
"""

from __future__ import annotations

from typing import Protocol

from bot.narrator.models import ForecastNarrative, Narration, Report
from engine.state import MarketState

__all__ = ["ForecastNarrative", "Narration", "Narrator", "Report", "make_report"]


class Narrator(Protocol):
    """Writes the narrative for a state. Must never raise for a valid state."""

    name: str

    def narrate(self, state: MarketState) -> Narration: ...


def make_report(state: MarketState, narration: Narration) -> Report:
    """Render a narration into the full report text (see :mod:`bot.narrator.render`)."""
    from bot.views.report import render_report

    return Report(
        state=state,
        narrative=narration.narrative,
        text=render_report(state, narration.narrative, narration.notes),
        narrator=narration.source,
        notes=narration.notes,
    )
