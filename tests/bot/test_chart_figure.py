"""The forecast chart's figure: the artists a trader reads, counted, not pixel-compared."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.chart import HEIGHT_PX, WIDTH_PX, render_chart
from engine.build import prepare, state_at
from engine.demo import demo_dataset
from engine.prepared import History, Prepared
from engine.state import MarketState

plt = pytest.importorskip("matplotlib.pyplot")

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bot.plots.forecast import build_figure, forecast_line, spread  # noqa: E402


@pytest.fixture(scope="module")
def demo() -> tuple[Prepared, MarketState]:
    prepared = prepare(demo_dataset())
    return prepared, state_at(prepared)


@pytest.fixture
def figure() -> Iterator[list[Figure]]:
    made: list[Figure] = []
    yield made
    for fig in made:
        plt.close(fig)


def _axes(fig: Figure) -> dict[str, Axes]:
    return {ax.get_label(): ax for ax in fig.axes if ax.get_label()}


def _candles(ax: Axes) -> BarContainer:
    (bars,) = [c for c in ax.containers if c.get_label() == "_candles"]
    return bars


def _blank(prepared: Prepared, *columns: str) -> Prepared:
    """The same data with ``columns`` of the daily frame unknown (NaN)."""
    frame = prepared.dataset.frame.copy()
    for col in columns:
        frame[col] = np.nan
    return prepare(replace(prepared.dataset, frame=frame))


def test_one_candle_per_session_and_every_panel_with_data(
    demo: tuple[Prepared, MarketState], figure: list[Figure]
) -> None:
    prepared, state = demo
    history = prepared.history(sessions=120)
    fig = build_figure(history, state)
    figure.append(fig)
    axes = _axes(fig)
    assert list(axes) == ["price", "volume", "gex", "rsi", "vix", "dark_pool"]
    candles = _candles(axes["price"])
    assert len(candles.patches) == len(history.bars) == 120
    bars = history.bars
    for patch, (_, row) in zip(candles.patches, bars.iterrows(), strict=True):
        assert patch.get_y() == pytest.approx(min(row["open"], row["close"]))
        top = patch.get_y() + patch.get_height()
        assert top == pytest.approx(max(row["open"], row["close"]), abs=0.1)
    assert len(axes["volume"].patches) == 120
    assert len(axes["gex"].patches) == int(bars["gex"].notna().sum())


def test_panels_without_data_are_left_out(
    demo: tuple[Prepared, MarketState], figure: list[Figure]
) -> None:
    prepared, _ = demo
    bare = _blank(prepared, "dark_pool", "volume", "vix")
    fig = build_figure(bare.history(), state_at(bare))
    figure.append(fig)
    assert list(_axes(fig)) == ["price", "gex", "rsi"]


def test_gex_regime_only_where_gex_is_known(
    demo: tuple[Prepared, MarketState], figure: list[Figure]
) -> None:
    prepared, _ = demo
    frame = prepared.dataset.frame.copy()
    cut = frame.index[-90]
    frame.loc[frame.index < cut, "gex"] = np.nan
    half = prepare(replace(prepared.dataset, frame=frame))
    history = half.history()
    fig = build_figure(history, state_at(half))
    figure.append(fig)
    axes = _axes(fig)
    gex = history.bars["gex"].to_numpy()
    assert len(axes["gex"].patches) == int(np.isfinite(gex).sum()) == 90
    (shade,) = [c for c in axes["price"].collections if c.get_label() == "net GEX < 0"]
    shaded = set()
    for path in shade.get_paths():
        xs = path.vertices[:, 0]
        shaded.update(range(int(np.ceil(xs.min())), int(np.floor(xs.max())) + 1))
    assert shaded == set(np.flatnonzero(np.nan_to_num(gex) < 0).tolist())
    assert min(shaded) >= len(gex) - 90


def test_chain_levels_drawn_only_on_their_days(
    demo: tuple[Prepared, MarketState], figure: list[Figure]
) -> None:
    prepared, _ = demo
    days = prepared.dates[[-40, -39, -3]]
    levels = pd.DataFrame(
        {
            "flip_level": [220.0, 221.0, 228.5],
            "call_wall": [230.0, 230.0, 235.0],
            "put_wall": [210.0, np.nan, 215.0],
            "as_of": [f"{d.date()}T16:00:00-04:00" for d in days],
        },
        index=days,
    )
    # A snapshot older than the window must not reach the chart at all.
    old = pd.DataFrame(
        {"flip_level": [150.0], "call_wall": [160.0], "put_wall": [140.0], "as_of": ["x"]},
        index=prepared.dates[[10]],
    )
    with_chain = prepare(replace(prepared.dataset, gex_levels=pd.concat([old, levels])))
    history = with_chain.history()
    assert history.levels is not None and len(history.levels) == 3
    fig = build_figure(history, state_at(with_chain))
    figure.append(fig)
    lines = {ln.get_gid(): ln for ln in _axes(fig)["price"].lines if ln.get_gid()}
    n = len(history.bars)
    for col, expected in (("flip_level", 3), ("call_wall", 3), ("put_wall", 2)):
        line = lines[f"level:{col}"]
        y = np.asarray(line.get_ydata(), dtype=float)
        known = np.flatnonzero(np.isfinite(y))
        assert len(known) == expected
        assert set(known.tolist()) <= {n - 40, n - 39, n - 3}
        assert y[n - 3] == levels[col].iloc[2]


def test_rule_markers_sit_at_the_bar(
    demo: tuple[Prepared, MarketState], figure: list[Figure]
) -> None:
    prepared, state = demo
    rules = list(state.rules)
    rsi = next(i for i, r in enumerate(rules) if r.name == "RSI_Extreme")
    rules[rsi] = rules[rsi].model_copy(update={"direction": "bearish"})
    turned = state.model_copy(update={"rules": tuple(rules)})
    history = prepared.history()
    fig = build_figure(history, turned)
    figure.append(fig)
    price = _axes(fig)["price"]
    bars = history.bars
    span = float(bars["high"].max() - bars["low"].min())
    marks = {c.get_gid(): c for c in price.collections if (c.get_gid() or "").startswith("rule:")}
    fired = [r.name for r in state.rules if history.fires[r.name].any()]
    assert sorted(marks) == sorted(f"rule:{name}" for name in fired)
    for name in fired:
        points = marks[f"rule:{name}"].get_offsets()
        days = np.flatnonzero(history.fires[name].to_numpy(dtype=bool))
        assert points[:, 0].tolist() == days.tolist()
        if name == "RSI_Extreme":  # bearish: just above the high
            gap = points[:, 1] - bars["high"].to_numpy()[days]
        else:  # bullish: just below the low
            gap = bars["low"].to_numpy()[days] - points[:, 1]
        assert (gap > 0).all() and (gap < span * 0.15).all()
    labels = price.get_legend_handles_labels()[1]
    assert "T3 RSI_Extreme" in labels and "T1 Golden_Setup" in labels
    assert {"SMA20", "SMA50", "SMA200", "Bollinger 20, 2σ"} <= set(labels)


def test_guides_are_labelled_and_the_box_reads_the_state(
    demo: tuple[Prepared, MarketState], figure: list[Figure]
) -> None:
    prepared, state = demo
    fig = build_figure(prepared.history(), state)
    figure.append(fig)
    axes = _axes(fig)
    rsi_labels = {t.get_text() for t in axes["rsi"].texts}
    assert rsi_labels == {"oversold 30", "overbought 70", "extreme 75"}
    assert {t.get_text() for t in axes["vix"].texts} == {"high VIX ≥ 20"}
    assert {t.get_text() for t in axes["dark_pool"].texts} == {"bullish > 1.5"}
    (box,) = [t for t in fig.texts if t.get_gid() == "forecast-box"]
    text = box.get_text()
    t = state.tomorrow
    band = next(b for b in t.move.bands if b.level == pytest.approx(0.68)) if t.move else None
    assert band is not None
    assert f"Tomorrow: {t.call} ({t.confidence} confidence)" in text
    assert f"P(up) {t.prob_up * 100:.1f}% vs base {t.base_rate * 100:.1f}%" in text
    assert f"68% range {band.price_low:,.2f} - {band.price_high:,.2f}" in text
    assert "Next 5 days:" in text
    bare = t.model_copy(update={"move": None})
    assert forecast_line("Tomorrow", bare).endswith("no range yet (too little history)")


def test_key_level_labels_keep_apart_and_near_their_level() -> None:
    ys = spread([100.0, 100.1, 100.2, 105.0], gap=1.0)
    assert all(b - a >= 1.0 - 1e-6 for a, b in itertools.pairwise(ys))
    assert sum(ys[:3]) / 3 == pytest.approx(100.1)  # the cluster stays centred
    assert ys[3] == 105.0


def test_png_size_and_an_empty_forecast(demo: tuple[Prepared, MarketState]) -> None:
    prepared, state = demo
    png = render_chart(prepared.history(), state)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (WIDTH_PX, HEIGHT_PX)
    bare = state.model_copy(
        update={
            "key_levels": (),
            "tomorrow": state.tomorrow.model_copy(update={"move": None}),
            "next_5_days": state.next_5_days.model_copy(update={"move": None}),
        }
    )
    assert render_chart(prepared.history(), bare)[:8] == b"\x89PNG\r\n\x1a\n"
    empty = History(bars=prepared.history().bars.iloc[:0], fires=prepared.history().fires.iloc[:0])
    assert render_chart(empty, state)[:8] == b"\x89PNG\r\n\x1a\n"


def test_real_files_chart(raw_data_dir: Path, tmp_path: Path, figure: list[Figure]) -> None:
    from sources.csv_import import load_dataset

    raw = pd.read_csv(raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv")
    path = tmp_path / "iwm.csv"
    raw.rename(columns=str.lower).to_csv(path, index=False)
    dataset = load_dataset(
        path,
        raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv",
        raw_data_dir / "squeezemetrics_dix" / "DIX.csv",
    )
    prepared = prepare(dataset)
    state = state_at(prepared)
    history = prepared.history(state.as_of)
    fig = build_figure(history, state)
    figure.append(fig)
    axes = _axes(fig)
    assert list(axes) == ["price", "volume", "gex", "rsi", "vix"]  # no dark-pool file
    assert len(_candles(axes["price"]).patches) == 180
    png = render_chart(history, state)
    assert struct.unpack(">II", png[16:24]) == (WIDTH_PX, HEIGHT_PX)
