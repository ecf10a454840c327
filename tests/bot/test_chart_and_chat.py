"""The chart PNG and the terminal chat."""

from __future__ import annotations

import io

from bot.chat import run_chat
from bot.service import AnalystService, DataRequest
from bot.settings import Settings
from engine.build import prepare, state_at
from engine.demo import demo_dataset


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


def test_chart_draws_the_ranges_and_labels_the_key_levels() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from bot.plots.forecast import forecast_overlay

    prepared = prepare(demo_dataset())
    state = state_at(prepared)
    history = prepared.history()
    fig, ax = plt.subplots()
    try:
        ax.plot(range(len(history.bars)), history.bars["close"])
        forecast_overlay(ax, len(history.bars), state)
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 4  # 68% and 90%, tomorrow and the next 5 days
        tops = {round(float(p.get_paths()[0].vertices[:, 1].max()), 2) for p in bands}
        moves = [state.tomorrow.move, state.next_5_days.move]
        assert tops == {b.price_high for m in moves if m is not None for b in m.bands}
        labels = {t.get_text() for t in ax.texts}
        for lv in state.key_levels:
            if lv.kind != "range":
                assert f"{lv.name} {lv.price:,.2f}" in labels
        assert ax.get_xlim()[1] > ax.get_xlim()[0]
    finally:
        plt.close(fig)
