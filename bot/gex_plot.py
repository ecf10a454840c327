"""The gamma-profile picture: net GEX against spot, with spot, flip and walls marked."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.errors import UserInputError
from engine.gex import GexResult

log = logging.getLogger(__name__)


def plot_gamma_profile(result: GexResult, path: Path, *, title: str = "IWM") -> Path:
    """Write a PNG (or any format matplotlib infers from the suffix) and return its path.

    The y axis is net dealer GEX in USD millions per 1% move, recomputed with
    Black-Scholes at each spot of the sweep; bars underneath show GEX by strike at the
    current spot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spots = result.profile_spots
    prof = result.profile_gex / 1e6
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=110)
    try:
        lo, hi = float(spots[0]), float(spots[-1])
        strikes = result.by_strike[(result.by_strike.index >= lo) & (result.by_strike.index <= hi)]
        if not strikes.empty:
            width = max(float(strikes.index.to_series().diff().median() or 1.0) * 0.8, 0.1)
            ax.bar(
                strikes.index,
                strikes["call_gex"] / 1e6,
                width=width,
                color="#7fb3d5",
                alpha=0.5,
                label="call GEX by strike",
            )
            ax.bar(
                strikes.index,
                strikes["put_gex"] / 1e6,
                width=width,
                color="#f1948a",
                alpha=0.5,
                label="put GEX by strike",
            )
        ax.plot(spots, prof, color="black", lw=2, label="net GEX profile (BS, per spot)")
        ax.fill_between(spots, prof, 0, where=prof >= 0, color="#27ae60", alpha=0.15)
        ax.fill_between(spots, prof, 0, where=prof < 0, color="#c0392b", alpha=0.15)
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(result.spot, color="#2c3e50", ls="--", label=f"spot {result.spot:.2f}")
        if result.flip_level is not None:
            ax.axvline(
                result.flip_level,
                color="#8e44ad",
                ls="-.",
                label=f"zero-gamma flip {result.flip_level:.2f}",
            )
        if result.call_wall is not None:
            ax.axvline(
                result.call_wall,
                color="#2874a6",
                ls=":",
                lw=2,
                label=f"call wall {result.call_wall:g}",
            )
        if result.put_wall is not None:
            ax.axvline(
                result.put_wall,
                color="#b03a2e",
                ls=":",
                lw=2,
                label=f"put wall {result.put_wall:g}",
            )
        ax.set_xlim(lo, hi)
        ax.set_xlabel("underlying price, USD")
        ax.set_ylabel("dealer GEX, USD millions per 1% move")
        ax.set_title(f"{title} gamma profile, chain as of {result.as_of:%Y-%m-%d %H:%M}")
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        try:
            fig.savefig(path)
        except (OSError, ValueError) as exc:
            raise UserInputError(f"cannot write the plot to {path}: {exc}") from exc
    finally:
        plt.close(fig)
    log.info("wrote gamma profile plot to %s", path)
    return path
