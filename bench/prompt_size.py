"""Size of the forecast prompt the model receives, for the real IWM state and the demo.

Tokens are estimated at four characters each (English and compact JSON average close to
that with GPT-style tokenisers; no tokenizer file can be downloaded here).
"""

from __future__ import annotations

from pathlib import Path

from bot.narrator.llm import prompt_tokens
from engine.build import build_state
from engine.demo import demo_dataset
from engine.state import MarketState

RAW = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "raw"


def forecast_prompt_tokens(state: MarketState) -> int:
    from bot.narrator.llm import forecast_messages

    return prompt_tokens(forecast_messages(state))


def run() -> list[str]:
    lines = []
    if RAW.is_dir():
        from sources.csv_import import load_dataset

        data = load_dataset(
            RAW / "guydekowski_market-lab" / "IWM.csv",
            RAW / "noodles-rice_vix_dashboard" / "VIX_History.csv",
            RAW / "squeezemetrics_dix" / "DIX.csv",
        )
        real = build_state(data)
        busy = build_state(data, as_of=real.as_of.replace(month=3, day=12))
        full = len(real.model_dump_json()) // 4
        lines.append(
            f"real IWM state ({real.as_of}): forecast prompt ~{forecast_prompt_tokens(real)} "
            f"tokens (target < 3000); the full state JSON alone would be ~{full}"
        )
        lines.append(
            f"real IWM state with {len(busy.fired_rules)} rules firing ({busy.as_of}): "
            f"~{forecast_prompt_tokens(busy)} tokens"
        )
    demo = build_state(demo_dataset())
    lines.append(f"demo state ({demo.as_of}): ~{forecast_prompt_tokens(demo)} tokens")
    return lines
