"""The audit chart: each rule's measured record against the playbook's claim.

A grid of four panels: win rate (top) and mean forward return (bottom), at 1 day (left)
and 5 days (right). Per rule: a dot at the measurement with its 95% interval (Wilson for
the win rate, block bootstrap for the mean), coloured by the audit's verdict; a cross at
the playbook's claim where it makes one, win-rate claims above and mean-return claims
below; a dashed line at the base rate (all days). Rules that never fired are listed
with "n=0" and no dot. One legend for the whole figure. Rendered with matplotlib's Agg
backend, so it works on servers without a display.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from engine.audit import AuditTable
from engine.errors import UserInputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from engine.state import HorizonStats

log = logging.getLogger(__name__)

#: Verdict colours (colour-blind safe pairs: blue/orange, green/red kept apart by shape).
VERDICT_COLOUR = {
    "supported": "#1a9850",
    "contradicted": "#d73027",
    "not distinguishable from base rate": "#4575b4",
    "too few cases": "#fdae61",
    "no claim": "#7f7f7f",
}
CLAIM_COLOUR = "#000000"


def _row(ax: Axes, y: int, s: HorizonStats, *, mean: bool) -> None:
    """One rule's measurement (dot and interval) and claim (cross) on one panel."""
    colour = VERDICT_COLOUR.get(s.verdict or "no claim", "#7f7f7f")
    value = s.mean_return if mean else s.win_rate
    ci = s.mean_return_ci if mean else s.win_rate_ci
    claim = s.claim_mean_return if mean else s.claim_win_rate
    if value is not None:
        lo = (value - ci.low) * 100 if ci is not None else 0.0
        hi = (ci.high - value) * 100 if ci is not None else 0.0
        ax.errorbar(value * 100, y, xerr=[[lo], [hi]], fmt="o", color=colour, capsize=4, ms=7)
    if claim is not None:
        ax.plot(claim * 100, y, marker="X", color=CLAIM_COLOUR, ms=9, ls="none")


def write_audit_plot(table: AuditTable, path: Path) -> Path:
    """Draw the audit chart of ``table`` to ``path`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    horizons = sorted({r.stats.horizon for r in table.rows})
    rules = list(dict.fromkeys(r.rule for r in table.rows))
    fig, axes = plt.subplots(
        2,
        len(horizons),
        figsize=(6.5 * len(horizons), 0.9 * len(rules) + 4.5),
        sharey=True,
        squeeze=False,
    )
    for col, h in enumerate(horizons):
        by_rule = {r.rule: r.stats for r in table.rows if r.stats.horizon == h}
        first = next(iter(by_rule.values()))
        for row, mean in enumerate((False, True)):
            ax = axes[row][col]
            base = first.base_mean_return if mean else first.base_win_rate
            if base is not None:
                ax.axvline(base * 100, color="grey", ls="--", lw=1)
            for y, rule in enumerate(rules):
                s = by_rule[rule]
                _row(ax, y, s, mean=mean)
                if not mean:
                    ax.annotate(
                        f"n={s.n_fired}, episodes={s.n_episodes}: {s.verdict or '-'}",
                        (0.01, y),
                        xycoords=("axes fraction", "data"),
                        xytext=(0, 8),
                        textcoords="offset points",
                        fontsize=7,
                        color=VERDICT_COLOUR.get(s.verdict or "no claim", "dimgrey"),
                    )
            ax.set_yticks(range(len(rules)), rules, fontsize=8)
            ax.set_ylim(len(rules) - 0.5, -0.9)
            ax.grid(axis="x", alpha=0.3)
            what = "mean forward return, %" if mean else "win rate, % (forward return > 0)"
            ax.set_xlabel(f"{what}, {h}-day")
            if mean:
                ax.axvline(0, color="black", lw=0.6)
            else:
                ax.set_xlim(0, 100)
                ax.set_title(f"{h}-day horizon (base rate {base * 100:.0f}%)" if base else "")
    handles = [
        Line2D([], [], marker="o", ls="none", color=c, label=v) for v, c in VERDICT_COLOUR.items()
    ] + [
        Line2D([], [], marker="X", ls="none", color=CLAIM_COLOUR, label="playbook claim"),
        Line2D([], [], ls="--", color="grey", label="base rate (all days)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(
        f"Playbook audit {table.first_date} .. {table.as_of}: measured record (dot, 95% CI, "
        "coloured by verdict) vs the playbook's claim (cross)",
        fontsize=11,
    )
    if table.notes:
        fig.text(0.01, 0.065, " | ".join(table.notes), fontsize=7, color="dimgrey")
    fig.tight_layout(rect=(0, 0.09, 1, 0.97))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise UserInputError(f"cannot write the chart to {path}: {exc}") from exc
    finally:
        plt.close(fig)
    log.info("audit chart written to %s", path)
    return path
