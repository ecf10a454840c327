"""The audit chart: each rule's measured win rate with its Wilson 95% interval.

One panel per horizon. Per rule: a dot at the measured win rate, a bar for the
interval, a cross at the playbook's claim (when it makes one) and a dashed line at the
base rate. Rules that never fired are listed with "n=0" and no dot. Uses matplotlib's
non-interactive Agg backend so it works on servers without a display.
"""

from __future__ import annotations

import logging
from pathlib import Path

from engine.audit import AuditTable
from engine.errors import UserInputError

log = logging.getLogger(__name__)


def write_audit_plot(table: AuditTable, path: Path) -> Path:
    """Draw the audit chart of ``table`` to ``path`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizons = sorted({r.stats.horizon for r in table.rows})
    rules = list(dict.fromkeys(r.rule for r in table.rows))
    fig, axes = plt.subplots(
        1, len(horizons), figsize=(6 * len(horizons), 0.6 * len(rules) + 2.6), sharey=True
    )
    axes_list = list(axes) if len(horizons) > 1 else [axes]
    for ax, h in zip(axes_list, horizons, strict=True):
        by_rule = {r.rule: r.stats for r in table.rows if r.stats.horizon == h}
        base = next((s.base_win_rate for s in by_rule.values() if s.base_win_rate), None)
        for y, rule in enumerate(rules):
            s = by_rule[rule]
            ax.annotate(
                f"n={s.n_fired}, episodes={s.n_episodes}: {s.verdict or '-'}",
                (1, y),
                xytext=(0, 7),
                textcoords="offset points",
                fontsize=7,
                color="dimgrey",
            )
            if s.win_rate is not None and s.win_rate_ci is not None:
                ax.errorbar(
                    s.win_rate * 100,
                    y,
                    xerr=[
                        [(s.win_rate - s.win_rate_ci.low) * 100],
                        [(s.win_rate_ci.high - s.win_rate) * 100],
                    ],
                    fmt="o",
                    color="tab:blue",
                    capsize=4,
                )
            if s.claim_win_rate is not None:
                ax.plot(s.claim_win_rate * 100, y, "x", color="tab:red", markersize=9)
        if base is not None:
            ax.axvline(base * 100, color="grey", linestyle="--", label=f"base rate {base:.0%}")
        ax.plot([], [], "x", color="tab:red", label="playbook claim")
        ax.errorbar([], [], xerr=[], fmt="o", color="tab:blue", label="measured, 95% CI")
        ax.set_yticks(range(len(rules)), rules, fontsize=8)
        ax.set_ylim(len(rules) - 0.5, -0.8)
        ax.set_xlim(0, 100)
        ax.set_xlabel(f"win rate, % ({h}-day forward return > 0)")
        ax.set_title(f"{h}-day horizon")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize=8)
    fig.suptitle(
        f"Playbook audit {table.first_date} .. {table.as_of}: measured win rate vs claim",
        fontsize=11,
    )
    if table.notes:
        fig.text(0.01, 0.005, " | ".join(table.notes), fontsize=7, color="dimgrey")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise UserInputError(f"cannot write the chart to {path}: {exc}") from exc
    finally:
        plt.close(fig)
    log.info("audit chart written to %s", path)
    return path
