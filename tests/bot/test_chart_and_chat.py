"""The chart PNG (the terminal chat is tested in test_repl.py)."""

from __future__ import annotations

import struct

from bot.chart import HEIGHT_PX, WIDTH_PX, render_chart
from engine.build import prepare, state_at
from engine.demo import demo_dataset


def test_chart_is_a_png_of_the_expected_size() -> None:
    prepared = prepare(demo_dataset())
    png = render_chart(prepared.history(), state_at(prepared))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (WIDTH_PX, HEIGHT_PX)
    assert len(png) > 50_000  # a real plot, not an empty canvas


def test_chart_draws_the_ranges_and_labels_the_key_levels() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from bot.chart import forecast_overlay

    prepared = prepare(demo_dataset())
    state = state_at(prepared)
    history = prepared.history()
    fig, ax = plt.subplots()
    try:
        ax.plot(history.bars.index, history.bars["close"])
        forecast_overlay(ax, history.bars.index, state)
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
    bare = state.model_copy(
        update={
            "key_levels": (),
            "tomorrow": state.tomorrow.model_copy(update={"move": None}),
            "next_5_days": state.next_5_days.model_copy(update={"move": None}),
        }
    )
    assert render_chart(history, bare)[:4] == b"\x89PNG"
