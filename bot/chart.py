"""The forecast chart: a PNG a trader would recognise.

Panels, top to bottom: price with Bollinger bands, SMA20/50/200, markers on the days
rules fired (by tier) and the negative-GEX regime shaded, plus the zero-gamma flip and
call/put walls when the state has them, the next-day and 5-day 68%/90% ranges as bars
past the last session and the key levels labelled at the right edge; RSI(14) with the
state's oversold, overbought and extreme guides; VIX with the high-VIX threshold; the
dark-pool ratio with its threshold. Rendered with the Agg backend (no display needed).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

from bot.once import OnceCache

if TYPE_CHECKING:
    from engine.prepared import History, Prepared
    from engine.state import MarketState

WIDTH_PX, HEIGHT_PX, DPI = 1200, 1000, 100
TIER_MARKER = {1: "^", 2: "o", 3: "s"}
#: Sessions past the last bar: the 5-day range, then room for the level labels; and how
#: many sessions back the key-level lines start.
RANGE_SESSIONS, LABEL_SESSIONS, LEVEL_SESSIONS = 5, 20, 25
#: Smallest vertical gap between two level labels, as a share of the price axis.
LABEL_GAP = 0.03


def render_chart(history: History, state: MarketState) -> bytes:
    """PNG bytes of the sessions in ``history`` (:meth:`engine.prepared.Prepared.history`)."""
    ind, fires = history.bars, history.fires
    x = ind.index
    fig, axes = plt.subplots(
        4,
        1,
        figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI),
        dpi=DPI,
        sharex=True,
        gridspec_kw={"height_ratios": [4, 1.3, 1.3, 1.3]},
    )
    price, rsi_ax, vix_ax, dp_ax = axes
    try:
        title = f"{state.ticker} daily, as of {state.as_of}"
        if state.synthetic:
            title += "  (SYNTHETIC DEMO DATA)"
        price.set_title(title, loc="left", fontsize=12, fontweight="bold")
        price.fill_between(
            x,
            ind["bb_lower"],
            ind["bb_upper"],
            color="#9ecae1",
            alpha=0.25,
            label="Bollinger 20, 2σ",
        )
        price.plot(x, ind["close"], color="black", lw=1.4, label="close")
        for col, color in (("sma20", "#3182bd"), ("sma50", "#e6550d"), ("sma200", "#756bb1")):
            if ind[col].notna().any():
                price.plot(x, ind[col], color=color, lw=1.0, label=col.upper())
        negative = (ind["gex"] < 0).to_numpy()
        if negative.any():
            lo, hi = float(ind["low"].min()), float(ind["high"].max())
            price.fill_between(
                x, lo, hi, where=negative, color="#d73027", alpha=0.08, step="mid", label="GEX < 0"
            )
        gex = state.regime.gex
        for level, label, style in (
            (gex.flip_level, "zero-gamma flip", ":"),
            (gex.call_wall, "call wall", "--"),
            (gex.put_wall, "put wall", "-."),
        ):
            if level is not None:
                price.axhline(level, color="#636363", ls=style, lw=1.0, label=label)
        colors = plt.get_cmap("tab10")
        for k, rule in enumerate(state.rules):
            hits = fires[rule.name].to_numpy(dtype=bool) if rule.name in fires else None
            if hits is None or not hits.any():
                continue
            # Stack markers below the bar so rules firing on the same day stay visible.
            y = ind["low"].to_numpy()[hits] * (1 - 0.007 * (k + 1))
            price.scatter(
                x[hits],
                y,
                marker=TIER_MARKER.get(rule.tier, "x"),
                color=colors(k),
                s=22,
                zorder=5,
                label=f"T{rule.tier} {rule.name}",
            )
        forecast_overlay(price, x, state)
        price.legend(loc="upper left", fontsize=7, ncol=3, framealpha=0.8)
        price.grid(alpha=0.3)

        rsi_ax.plot(x, ind["rsi14"], color="#54278f", lw=1.0)
        prm = state.params
        guides = ((prm.rsi_overbought, "#e6550d"), (prm.rsi_oversold, "#31a354"),
                  (prm.rsi_extreme, "#a50f15"))  # fmt: skip
        for level, color in guides:
            rsi_ax.axhline(level, color=color, lw=0.8, ls="--")
        rsi_ax.set_ylim(0, 100)
        rsi_ax.set_ylabel("RSI(14)")

        _series_panel(vix_ax, x, ind["vix"].to_numpy(), state.params.high_vix, "VIX", "#de2d26")
        _series_panel(
            dp_ax,
            x,
            ind["dark_pool"].to_numpy(),
            state.params.dark_pool_threshold,
            "dark-pool ratio",
            "#2c7fb8",
        )
        for ax in axes[1:]:
            ax.grid(alpha=0.3)
        dates = mdates.DateFormatter("%Y-%m-%d")  # type: ignore[no-untyped-call]
        dp_ax.xaxis.set_major_formatter(dates)
        fig.autofmt_xdate()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        return buf.getvalue()
    finally:
        plt.close(fig)


def forecast_overlay(ax, x, state: MarketState) -> None:  # type: ignore[no-untyped-def]
    """The next-day and 5-day 68%/90% ranges as bars past the last session, and the key
    levels as lines labelled to the right of them (all figures from the state)."""
    import pandas as pd

    if len(x) == 0:
        return
    last = x[-1]
    half = pd.Timedelta(days=1.4)
    for f, color in ((state.tomorrow, "#1b9e77"), (state.next_5_days, "#7570b3")):
        if f.move is None:
            continue
        at = last + pd.offsets.BDay(f.horizon)
        for band in sorted(f.move.bands, key=lambda b: -b.level):
            alpha = 0.3 if band.level > 0.8 else 0.7
            ax.fill_between([at - half, at + half], band.price_low, band.price_high,
                            color=color, alpha=alpha, lw=0)  # fmt: skip
        ax.plot([], [], color=color, lw=6, alpha=0.6,
                label=f"{f.horizon}-day 68% / 90% range")  # fmt: skip
    edge = last + pd.offsets.BDay(RANGE_SESSIONS + 1)
    ax.plot([last, edge], [state.latest.close] * 2, color="black", lw=0.6, ls=":")
    levels = sorted((lv for lv in state.key_levels if lv.kind != "range"), key=lambda v: v.price)
    start = x[max(len(x) - LEVEL_SESSIONS, 0)]
    low, high = ax.get_ylim()
    gap = (high - low) * LABEL_GAP
    placed: list[float] = []
    for lv in levels:
        ax.plot([start, edge], [lv.price, lv.price], color="#636363", lw=0.7, ls="--")
        y = max(lv.price, placed[-1] + gap) if placed else lv.price
        placed.append(y)
        label = f"{lv.name} {lv.price:,.2f}"
        ax.annotate(label, (edge, y), xytext=(4, 0), textcoords="offset points",
                    fontsize=7, va="center", color="#404040")  # fmt: skip
    ax.set_xlim(right=last + pd.offsets.BDay(RANGE_SESSIONS + LABEL_SESSIONS))


def _series_panel(ax, x, values: np.ndarray, threshold: float, label: str, color: str) -> None:  # type: ignore[no-untyped-def]
    if np.isfinite(values).any():
        ax.plot(x, values, color=color, lw=1.0)
        ax.axhline(threshold, color="grey", lw=0.8, ls="--")
    else:
        ax.text(0.5, 0.5, f"no {label} data", transform=ax.transAxes, ha="center", va="center")
    ax.set_ylabel(label)


class ChartCache:
    """Renders each (data, day) chart once; concurrent requests wait for that render.

    A chart depends only on the data up to the as-of day, which ``inputs_hash`` and
    ``playbook_version`` identify, so a morning of ``!forecast`` needs one render.
    """

    def __init__(self, size: int = 8) -> None:
        self._png: OnceCache[tuple[str, str, str], bytes] = OnceCache(size)

    def get(self, prepared: Prepared, state: MarketState) -> bytes:
        key = (state.inputs_hash, state.playbook_version, state.as_of.isoformat())
        return self._png.get(key, lambda: render_chart(prepared.history(state.as_of), state))
