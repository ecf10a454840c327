"""The gamma picture of one chain snapshot: the net GEX profile and GEX by strike.

Top panel: net dealer GEX (USD per 1% move) recomputed with Black-Scholes at each spot
of the sweep, shaded where positive (dealers damp moves) and negative (they add to
them). Bottom panel, on its own axis so small bars stay visible: call and put GEX by
strike at the current spot. Spot, the zero-gamma flip and the call and put walls are
labelled lines on both. The title carries the net GEX, the flip (and its distance from
spot), the walls and the chain's time with its time zone.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from bot.views.fmt import level, num, usd
from engine.errors import UserInputError
from engine.gex import EXCHANGE_TZ, GexResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)


def axis_scale(values_abs_max: float) -> tuple[float, str]:
    """A divisor and its unit word for an axis whose largest magnitude is given (USD)."""
    for scale, unit in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands")):
        if values_abs_max >= scale:
            return scale, unit
    return 1.0, ""


def plot_gamma_profile(result: GexResult, path: Path, *, title: str = "IWM") -> Path:
    """Write the picture (PNG, or any format matplotlib infers from the suffix)."""
    import matplotlib.pyplot as plt

    fig = gamma_figure(result, title=title)
    try:
        fig.savefig(path)
    except (OSError, ValueError) as exc:
        raise UserInputError(f"cannot write the plot to {path}: {exc}") from exc
    finally:
        plt.close(fig)
    log.info("wrote gamma profile plot to %s", path)
    return path


def gamma_figure(result: GexResult, *, title: str = "IWM") -> Figure:
    """The figure of :func:`plot_gamma_profile` (axes labelled ``profile`` and
    ``strikes``); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spots = result.profile_spots
    lo, hi = float(spots[0]), float(spots[-1])
    p_scale, p_unit = axis_scale(float(abs(result.profile_gex).max()))
    prof = result.profile_gex / p_scale
    strikes = result.by_strike[(result.by_strike.index >= lo) & (result.by_strike.index <= hi)]
    biggest = float(strikes[["call_gex", "put_gex"]].abs().to_numpy().max()) if len(strikes) else 1
    s_scale, s_unit = axis_scale(biggest)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 7.5), dpi=110, sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    try:
        top.set_label("profile")
        bottom.set_label("strikes")
        top.plot(spots, prof, color="black", lw=2)
        top.fill_between(spots, prof, 0, where=prof >= 0, color="#27ae60", alpha=0.18,
                         label="positive: dealers damp moves")  # fmt: skip
        top.fill_between(spots, prof, 0, where=prof < 0, color="#c0392b", alpha=0.18,
                         label="negative: dealers add to moves")  # fmt: skip
        top.axhline(0, color="grey", lw=0.8)
        top.set_ylabel(f"net GEX, USD {p_unit} per 1% move".replace("  ", " "))
        if len(strikes):
            width = max(float(strikes.index.to_series().diff().median() or 1.0) * 0.8, 0.1)
            bottom.bar(strikes.index, strikes["call_gex"] / s_scale, width=width,
                       color="#2e86c1", label="calls")  # fmt: skip
            bottom.bar(strikes.index, strikes["put_gex"] / s_scale, width=width,
                       color="#e67e22", label="puts")  # fmt: skip
        bottom.axhline(0, color="grey", lw=0.8)
        bottom.set_ylabel(f"GEX by strike, USD {s_unit}".replace("  ", " "))
        bottom.set_xlabel("underlying price, USD")
        lines = [
            (result.spot, f"spot {num(result.spot)}", "#2c3e50", "--"),
            (result.flip_level, f"flip {num(result.flip_level)}", "#8e44ad", "-."),
            (result.call_wall, f"call wall {level(result.call_wall)}", "#2874a6", ":"),
            (result.put_wall, f"put wall {level(result.put_wall)}", "#b03a2e", ":"),
        ]
        for i, (x, label, colour, style) in enumerate(lines):
            if x is None:
                continue
            for ax in (top, bottom):
                ax.axvline(x, color=colour, ls=style, lw=1.6)
            top.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"),
                         xytext=(3, -12 - 13 * i), textcoords="offset points", fontsize=8,
                         color=colour, fontweight="bold",
                         bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none",
                               "pad": 1.0})  # fmt: skip
        top.set_xlim(lo, hi)
        top.legend(loc="lower right", fontsize=8)
        bottom.legend(loc="lower right", fontsize=8)
        local = result.as_of.astimezone(EXCHANGE_TZ) if result.as_of.tzinfo else result.as_of
        stamp = local.strftime("%Y-%m-%d %H:%M %Z").strip()
        flip = f"zero-gamma flip {num(result.flip_level)}"
        if result.flip_level is not None:
            flip += f" ({(result.flip_level / result.spot - 1) * 100:+.1f}% from spot)"
        top.set_title(
            f"{title} dealer gamma, chain as of {stamp}: net GEX {usd(result.net_gex)} "
            f"per 1% move at spot {num(result.spot)}\n{flip}, "
            f"call wall {level(result.call_wall)}, put wall {level(result.put_wall)}",
            fontsize=11,
        )
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return fig
