"""The chart PNG and the terminal chat."""

from __future__ import annotations

import io
import struct

from bot.chart import HEIGHT_PX, WIDTH_PX, render_chart
from bot.chat import run_chat
from bot.service import AnalystService, DataRequest
from bot.settings import Settings
from engine.build import prepare, state_at
from engine.demo import demo_dataset


def test_chart_is_a_png_of_the_expected_size() -> None:
    prepared = prepare(demo_dataset())
    png = render_chart(prepared.history(), state_at(prepared))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (WIDTH_PX, HEIGHT_PX)
    assert len(png) > 50_000  # a real plot, not an empty canvas


def test_chat_runs_the_bot_commands(settings: Settings) -> None:
    lines = (
        "help\nsignals\nexplain gex negative\nwhat's the forecast for tomorrow?\nquit\nsignals\n"
    )
    out = io.StringIO()
    assert run_chat(AnalystService(settings), DataRequest(demo=True), io.StringIO(lines), out) == 0
    text = out.getvalue()
    assert "Golden_Setup" in text and "`GEX_Negative` (Tier 2" in text
    assert "Tomorrow:" in text
    assert text.count("signals on") == 1  # nothing after quit
