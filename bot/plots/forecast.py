"""The forecast chart's figure: the candles a trader reads, and what the engine saw.

Panels, top to bottom, each drawn only when its series has a value in the window:

* price: daily candles (as traded, USD), the Bollinger 20/2σ band, SMA20/50/200, light
  red columns on the days net GEX was known and negative, the chain's gamma levels
  (zero-gamma flip, call and put walls) as short steps on the days a snapshot gave them,
  rule markers at the bar (bullish rules below the low, bearish above the high, stacked
  when several fire on one day), and past the last session the next-day and 5-day
  68%/90% ranges and today's key levels labelled at the right edge;
* volume, millions of shares, coloured like the candle of the day;
* net GEX, USD per 1% move, green when positive and red when negative;
* RSI(14) with the labelled oversold, overbought and extreme guides;
* VIX with the labelled high-VIX threshold;
* the dark-pool ratio with its labelled bullish threshold.

A box above the panels carries the call, P(up) against the base rate and the 68% range
for tomorrow and the next 5 days, read from the state: nothing is recomputed here. The
x axis counts sessions (no weekend gaps); its ticks show dates.

This module imports matplotlib at its top: import it only inside a render function.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from bot.chart import HEIGHT_PX, WIDTH_PX
from bot.gex_plot import axis_scale
from bot.views.fmt import num, pct

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from engine.prepared import History
    from engine.state import Forecast, MarketState

DPI = 100
UP, DOWN, GREY = "#26a69a", "#ef5350", "#9e9e9e"
#: Sessions past the last bar for the 5-day range; then room for the level labels, as a
#: share of the sessions shown (a label is about a ninth of the axis wide), at least 12.
RANGE_SESSIONS, LABEL_SHARE, LABEL_MIN = 5, 0.13, 12
#: Smallest vertical gap between two level labels, as a share of the price axis.
LABEL_GAP = 0.03
#: Gap between a bar's low (high) and its first marker, and between stacked markers,
#: as a share of the window's price range.
MARKER_GAP = 0.018
TIER_SIZE = {1: 46.0, 2: 30.0, 3: 22.0}
#: Column of :attr:`History.levels` -> legend label, colour, line style.
LEVEL_STYLE = {
    "flip_level": ("zero-gamma flip (chain)", "#8e44ad", "-."),
    "call_wall": ("call wall (chain)", "#1565c0", "--"),
    "put_wall": ("put wall (chain)", "#c62828", "--"),
}
#: Colour of a key level's line and label (state.key_levels names); grey for the rest.
LEVEL_COLOUR = {
    "GEX flip": LEVEL_STYLE["flip_level"][1],
    "call wall": LEVEL_STYLE["call_wall"][1],
    "put wall": LEVEL_STYLE["put_wall"][1],
    "SMA20": "#1e88e5",
    "SMA50": "#fb8c00",
    "SMA200": "#6a1b9a",
    "BB upper": "#5c8fc4",
    "BB lower": "#5c8fc4",
}
PANEL_HEIGHT = {"price": 5.0, "volume": 1.0, "gex": 1.1, "rsi": 1.3, "vix": 1.1, "dark_pool": 1.1}
CALL_COLOUR = {"Bullish": "#1b7f3b", "Bearish": "#b71c1c", "Neutral": "#616161"}


def _known(values: np.ndarray) -> bool:
    return bool(np.isfinite(values).any())


def panels(bars: pd.DataFrame) -> list[str]:
    """The panels the window can fill, top to bottom (price always comes first)."""
    out = ["price"]
    volume = bars["volume"].to_numpy(float)
    if _known(volume) and bool((np.nan_to_num(volume) > 0).any()):
        out.append("volume")
    for col, name in (("gex", "gex"), ("rsi14", "rsi"), ("vix", "vix"), ("dark_pool", "dark_pool")):
        if _known(bars[col].to_numpy(float)):
            out.append(name)
    return out


def build_figure(history: History, state: MarketState) -> Figure:
    """The chart of ``history`` (:meth:`engine.prepared.Prepared.history`) for ``state``.

    Axes carry their panel's name as label (``price``, ``volume``, ``gex``, ``rsi``,
    ``vix``, ``dark_pool``). The caller closes the figure.
    """
    ind = history.bars
    n = len(ind)
    x = np.arange(n, dtype=float)
    names = panels(ind)
    fig, grid = plt.subplots(
        len(names),
        1,
        figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI),
        dpi=DPI,
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [PANEL_HEIGHT[p] for p in names]},
    )
    try:
        axes = dict(zip(names, grid[:, 0], strict=True))
        for name, ax in axes.items():
            ax.set_label(name)
            ax.grid(alpha=0.25)
        price = axes["price"]
        colours = _candles(price, x, ind)
        _averages(price, x, ind)
        _gex_shading(price, x, ind)
        _chain_levels(price, x, ind, history.levels)
        _rule_markers(price, x, ind, history.fires, state)
        if n:
            forecast_overlay(price, n, state)
        price.set_ylabel("IWM, USD")
        price.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=6, fontsize=7.5,
                     frameon=False, borderaxespad=0.2, handletextpad=0.4)  # fmt: skip
        if "volume" in axes:
            vol = axes["volume"]
            vol.bar(x, ind["volume"].to_numpy(float) / 1e6, width=0.7, color=colours, alpha=0.7)
            vol.set_ylabel("volume, M")
        if "gex" in axes:
            _gex_panel(axes["gex"], x, ind, state)
        if "rsi" in axes:
            rsi = axes["rsi"]
            rsi.plot(x, ind["rsi14"], color="#54278f", lw=1.0)
            prm = state.params
            _guide(rsi, prm.rsi_oversold, "#2e7d32", f"oversold {prm.rsi_oversold:g}")
            _guide(rsi, prm.rsi_overbought, "#e65100", f"overbought {prm.rsi_overbought:g}")
            _guide(rsi, prm.rsi_extreme, "#b71c1c", f"extreme {prm.rsi_extreme:g}", above=True)
            rsi.set_ylim(0, 100)
            rsi.set_ylabel("RSI(14)")
        if "vix" in axes:
            vix = axes["vix"]
            vix.plot(x, ind["vix"], color="#c62828", lw=1.0)
            _guide(vix, state.params.high_vix, GREY, f"high VIX ≥ {state.params.high_vix:g}")
            vix.set_ylabel("VIX")
        if "dark_pool" in axes:
            dp = axes["dark_pool"]
            dp.plot(x, ind["dark_pool"], color="#1565c0", lw=1.0)
            threshold = state.params.dark_pool_threshold
            _guide(dp, threshold, GREY, f"bullish > {threshold:g}")
            dp.set_ylabel("dark-pool ratio")
        _date_axis(grid[-1, 0], ind.index)
        _title(fig, state)
        fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.925), h_pad=0.4)
    except BaseException:
        plt.close(fig)
        raise
    return fig


def render_png(history: History, state: MarketState) -> bytes:
    """PNG bytes of :func:`build_figure`, WIDTH_PX x HEIGHT_PX."""
    fig = build_figure(history, state)
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        return buf.getvalue()
    finally:
        plt.close(fig)


def _candles(ax: Axes, x: np.ndarray, ind: pd.DataFrame) -> list[str]:
    """Wicks and bodies of the days with a full OHLC; a close line when there is none.

    Returns each day's colour (up, down, or grey when the open is unknown) for volume.
    """
    o, h, lo, c = (ind[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    full = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
    colours = np.where(~full, GREY, np.where(c >= o, UP, DOWN))
    if not full.any():
        ax.plot(x, c, color="black", lw=1.2, label="close")
        return [str(v) for v in colours]
    ax.vlines(x[full], lo[full], h[full], colors=colours[full], lw=0.8, zorder=3)
    # A doji still gets a visible body: a thousandth of the window's range.
    floor = (float(np.nanmax(h)) - float(np.nanmin(lo))) * 1e-3
    body = np.maximum(np.abs(c - o), floor)
    ax.bar(x[full], body[full], bottom=np.minimum(o, c)[full], width=0.6, color=colours[full],
           edgecolor=colours[full], lw=0.4, zorder=4, label="_candles")  # fmt: skip
    return [str(v) for v in colours]


def _averages(ax: Axes, x: np.ndarray, ind: pd.DataFrame) -> None:
    lower, upper = ind["bb_lower"].to_numpy(float), ind["bb_upper"].to_numpy(float)
    if _known(lower) and _known(upper):
        ax.fill_between(x, lower, upper, color="#90caf9", alpha=0.22, lw=0, zorder=1,
                        label="Bollinger 20, 2σ")  # fmt: skip
    for col, colour, label in (
        ("sma20", "#1e88e5", "SMA20"),
        ("sma50", "#fb8c00", "SMA50"),
        ("sma200", "#6a1b9a", "SMA200"),
    ):
        if _known(ind[col].to_numpy(float)):
            ax.plot(x, ind[col], color=colour, lw=1.1, label=label, zorder=2)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in ``mask``."""
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(s), int(e - s)) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _gex_shading(ax: Axes, x: np.ndarray, ind: pd.DataFrame) -> None:
    """Light red columns on the days GEX was known and negative (unknown days stay clear)."""
    negative = np.nan_to_num(ind["gex"].to_numpy(float), nan=0.0) < 0
    runs = _runs(negative)
    if runs:
        ax.broken_barh([(x[s] - 0.5, float(length)) for s, length in runs], (0.0, 1.0),
                       transform=ax.get_xaxis_transform(), color=DOWN, alpha=0.07, lw=0,
                       zorder=0, label="net GEX < 0")  # fmt: skip


def _chain_levels(ax: Axes, x: np.ndarray, ind: pd.DataFrame, levels: pd.DataFrame | None) -> None:
    """The flip and walls as steps on the days a chain snapshot gave them, nowhere else."""
    if levels is None or levels.empty:
        return
    pos = ind.index.get_indexer(levels.index)
    for col, (label, colour, style) in LEVEL_STYLE.items():
        if col not in levels:
            continue
        y = np.full(len(x), np.nan)
        values = levels[col].to_numpy(float)
        keep = (pos >= 0) & np.isfinite(values)
        y[pos[keep]] = values[keep]
        if _known(y):
            ax.plot(x, y, color=colour, ls=style, lw=1.3, drawstyle="steps-mid", marker="_",
                    ms=12, mew=2.0, zorder=5, label=label, gid=f"level:{col}")  # fmt: skip
            j = int(np.flatnonzero(np.isfinite(y))[-1])
            if j < len(x) - 1:  # today's value is labelled with the key levels instead
                ax.annotate(f"{y[j]:,.2f}", (x[j] + 0.8, y[j]), fontsize=6.5, va="center",
                            color=colour)  # fmt: skip


def _rule_markers(
    ax: Axes, x: np.ndarray, ind: pd.DataFrame, fires: pd.DataFrame, state: MarketState
) -> None:
    """A marker per rule on each day it fired, just below the low (bullish rules) or
    above the high (bearish ones); several rules on one day stack outwards."""
    close = ind["close"].to_numpy(float)
    low = np.where(np.isfinite(ind["low"].to_numpy(float)), ind["low"].to_numpy(float), close)
    high = np.where(np.isfinite(ind["high"].to_numpy(float)), ind["high"].to_numpy(float), close)
    if not _known(low):
        return
    step = (float(np.nanmax(high)) - float(np.nanmin(low))) * MARKER_GAP
    below, above = np.zeros(len(x)), np.zeros(len(x))
    cmap = plt.get_cmap("tab10")
    for k, rule in enumerate(state.rules):
        if rule.name not in fires:
            continue
        hits = fires[rule.name].fillna(False).to_numpy(dtype=bool) & np.isfinite(low)
        if not hits.any():
            continue
        if rule.direction == "bearish":
            above[hits] += 1
            y, marker = high[hits] + step * above[hits], "v"
        else:
            below[hits] += 1
            y, marker = low[hits] - step * below[hits], "^"
        ax.scatter(x[hits], y, marker=marker, s=TIER_SIZE.get(rule.tier, 22.0), color=cmap(k % 10),
                   edgecolors="white", linewidths=0.4, zorder=6,
                   label=f"T{rule.tier} {rule.name}", gid=f"rule:{rule.name}")  # fmt: skip


def forecast_overlay(ax: Axes, n: int, state: MarketState) -> None:
    """Past the last of ``n`` sessions: the next-day and 5-day 68%/90% ranges as bars at
    their session, and today's key levels as short lines labelled at the right edge (all
    figures from the state)."""
    last = n - 1
    for f, colour in ((state.tomorrow, "#1b9e77"), (state.next_5_days, "#7570b3")):
        if f.move is None:
            continue
        at = last + f.horizon
        for band in sorted(f.move.bands, key=lambda b: -b.level):
            alpha = 0.3 if band.level > 0.8 else 0.7
            ax.fill_between([at - 0.45, at + 0.45], band.price_low, band.price_high,
                            color=colour, alpha=alpha, lw=0)  # fmt: skip
        ax.plot([], [], color=colour, lw=6, alpha=0.6,
                label=f"{f.horizon}-day 68% / 90% range")  # fmt: skip
    edge = last + RANGE_SESSIONS + 1
    ax.plot([last, edge], [state.latest.close] * 2, color="black", lw=0.6, ls=":")
    levels = sorted((lv for lv in state.key_levels if lv.kind != "range"), key=lambda v: v.price)
    low, high = ax.get_ylim()
    ys = spread([lv.price for lv in levels], (high - low) * LABEL_GAP)
    for lv, y in zip(levels, ys, strict=True):
        colour = LEVEL_COLOUR.get(lv.name, "#616161")
        ax.plot([last + 0.5, edge], [lv.price, lv.price], color=colour, lw=0.9, ls="--")
        ax.annotate(f"{lv.name} {lv.price:,.2f}", (edge, lv.price), xytext=(edge + 1.5, y),
                    textcoords="data", fontsize=7.5, va="center", color=colour,
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": colour,
                                "shrinkA": 0, "shrinkB": 0})  # fmt: skip
    labels = max(LABEL_MIN, int(np.ceil(LABEL_SHARE * (n + RANGE_SESSIONS))))
    ax.set_xlim(-1, last + RANGE_SESSIONS + labels)


def spread(values: list[float], gap: float) -> list[float]:
    """Label heights for ascending ``values``, each at least ``gap`` from its neighbours
    and as close to its value as that allows (overlapping labels move apart evenly)."""
    ys = list(values)
    for _ in range(100):
        moved = False
        for i in range(1, len(ys)):
            if ys[i] - ys[i - 1] < gap - 1e-9:
                mid = (ys[i] + ys[i - 1]) / 2
                ys[i - 1], ys[i] = mid - gap / 2, mid + gap / 2
                moved = True
        if not moved:
            break
    return ys


def _gex_panel(ax: Axes, x: np.ndarray, ind: pd.DataFrame, state: MarketState) -> None:
    """Daily net GEX as bars on the days it is known, coloured by sign."""
    gex = ind["gex"].to_numpy(float)
    known = np.isfinite(gex)
    scale, unit = axis_scale(float(np.abs(gex[known]).max()))
    ax.bar(x[known], gex[known] / scale, width=0.8,
           color=np.where(gex[known] >= 0, UP, DOWN), alpha=0.85)  # fmt: skip
    ax.axhline(0, color="#424242", lw=0.6)
    short = {"billions": "B", "millions": "M", "thousands": "K"}.get(unit, "")
    ax.set_ylabel(f"net GEX\nUSD {short}/1%".replace("  ", " "))
    source = state.regime.gex.series or state.regime.gex.note
    if source:
        ax.text(0.005, 0.95, source, transform=ax.transAxes, fontsize=7, va="top",
                color="#424242")  # fmt: skip


def _guide(ax: Axes, level: float, colour: str, label: str, *, above: bool = False) -> None:
    """A dashed horizontal guide with its label at the right edge of the panel."""
    ax.axhline(level, color=colour, lw=0.8, ls="--")
    ax.annotate(label, (1.0, level), xycoords=("axes fraction", "data"),
                xytext=(-3, 2 if above else -2), textcoords="offset points", ha="right",
                va="bottom" if above else "top", fontsize=7, color=colour)  # fmt: skip


def _date_axis(ax: Axes, dates: pd.Index) -> None:
    """Ticks at the first session of each month (or evenly, for short windows)."""
    n = len(dates)
    if n == 0:
        return
    months = [i for i in range(1, n) if dates[i].month != dates[i - 1].month]
    if len(months) >= 3:
        ax.xaxis.set_major_locator(FixedLocator([float(i) for i in months]))
        fmt = "%b %Y"
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        fmt = "%Y-%m-%d"

    def label(value: float, _pos: int | None) -> str:
        i = round(value)
        return dates[i].strftime(fmt) if 0 <= i < n else ""

    ax.xaxis.set_major_formatter(FuncFormatter(label))


def forecast_line(name: str, f: Forecast) -> str:
    """One line of the title box: the call, P(up) against the base rate, the 68% range."""
    text = (
        f"{name}: {f.call} ({f.confidence} confidence), "
        f"P(up) {pct(f.prob_up, 1)} vs base {pct(f.base_rate, 1)}"
    )
    band = None
    if f.move is not None:
        band = next((b for b in f.move.bands if abs(b.level - 0.68) < 0.01), None)
    if band is None:
        return text + ", no range yet (too little history)"
    return text + f", 68% range {num(band.price_low)} - {num(band.price_high)}"


def _title(fig: Figure, state: MarketState) -> None:
    head = f"{state.ticker} daily, as of {state.as_of:%Y-%m-%d}, close {num(state.latest.close)}"
    if state.synthetic:
        head += "   (SYNTHETIC DEMO DATA)"
    fig.text(0.01, 0.988, head, fontsize=13, fontweight="bold", va="top")
    box = "\n".join((forecast_line("Tomorrow", state.tomorrow),
                     forecast_line("Next 5 days", state.next_5_days)))  # fmt: skip
    edge = CALL_COLOUR.get(state.tomorrow.call, "#616161")
    fig.text(0.01, 0.958, box, fontsize=9.5, va="top", color="#212121", gid="forecast-box",
             bbox={"boxstyle": "round,pad=0.4", "facecolor": "#fafafa", "edgecolor": edge,
                   "linewidth": 1.5})  # fmt: skip
