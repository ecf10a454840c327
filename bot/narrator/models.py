"""What a narrator writes, and the finished report."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from engine.state import Call, MarketState


class ForecastNarrative(BaseModel):
    """The prose parts of a forecast. The calls must equal the engine's calls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    immediate_call: Call = Field(description="Must equal state.tomorrow.call")
    immediate_assessment: str = Field(description="Why, from the active signals' record")
    five_day_call: Call = Field(description="Must equal state.next_5_days.call")
    five_day_flavour: str = Field(description="Playbook-style label, e.g. 'Bullish Trend'")
    five_day_rationale: str = Field(description="Why, over the next five sessions")
    strategy_title: str = Field(description="A short headline, e.g. 'Ride the Momentum'")
    strategy: str = Field(description="What a trader might do, without promises")
    fired_rules_mentioned: tuple[str, ...] = Field(
        description="Every rule the text says fires today, named exactly as in the state"
    )


@dataclass(frozen=True)
class Narration:
    """A narrator's output: the narrative, who wrote it, and notes for the reader."""

    narrative: ForecastNarrative
    source: str  # "offline" or "model:<model name>"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """A finished forecast: the state, the narrative and the rendered text."""

    state: MarketState
    narrative: ForecastNarrative
    text: str
    narrator: str
    notes: tuple[str, ...] = ()
