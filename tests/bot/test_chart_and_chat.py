"""The forecast chart's ranges and key-level labels (the chat is tested in test_repl.py)."""

from __future__ import annotations

from engine.build import prepare, state_at
from engine.demo import demo_dataset


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
