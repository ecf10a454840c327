"""The walk-forward chart: is P(up) calibrated, is confidence earned, do the ranges cover?

Three panels:

1. the reliability diagram: per decile of predicted P(up) and per horizon, the realised
   share up (Wilson 95% bars) against the prediction, with the diagonal;
2. per confidence level and horizon, how often the lean was right (Wilson 95% bars)
   against the lean's base rate (a cross): a level earns its word when the dot sits at
   or above the cross;
3. the coverage of the 68% and 90% ranges at each horizon, beside the constant 1-year
   volatility band, against the nominal level with a +-2 point band.

Uses matplotlib's non-interactive Agg backend so it works on servers without a display.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.views.tables import COVERAGE_TOLERANCE
from engine.errors import UserInputError
from engine.walkforward import WalkForward

log = logging.getLogger(__name__)

_MARKERS = {1: "o", 5: "s"}
_COLOURS = {1: "tab:blue", 5: "tab:orange"}


def write_walkforward_plot(wf: WalkForward, path: Path) -> Path:
    """Draw the walk-forward chart of ``wf`` to ``path`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rel, conf, cov) = plt.subplots(1, 3, figsize=(16, 5))
    try:
        lows: list[float] = []
        highs: list[float] = []
        for s in wf.scores:
            d = s.deciles
            if not d:
                continue
            x = [r.predicted * 100 for r in d]
            y = [r.realised * 100 for r in d]
            cis = [(r.realised_ci.low, r.realised_ci.high) if r.realised_ci else None for r in d]
            below = [(r.realised - c[0]) * 100 if c else 0.0 for r, c in zip(d, cis, strict=True)]
            above = [(c[1] - r.realised) * 100 if c else 0.0 for r, c in zip(d, cis, strict=True)]
            marker = _MARKERS.get(s.horizon, "o")
            label = f"{s.horizon}-day deciles"
            rel.errorbar(x, y, yerr=[below, above], fmt=marker, capsize=3,
                         color=_COLOURS.get(s.horizon), label=label)  # fmt: skip
            lows += [min(x), min(yy - e for yy, e in zip(y, below, strict=True))]
            highs += [max(x), max(yy + e for yy, e in zip(y, above, strict=True))]
        if lows:
            span = (min(lows) - 1, max(highs) + 1)
            rel.plot(span, span, "k--", lw=0.8, label="perfect calibration")
            rel.set_xlim(*span)
            rel.set_ylim(*span)
        rel.set_xlabel("predicted P(up), %")
        rel.set_ylabel("realised share up, % (Wilson 95%)")
        rel.set_title("Reliability by decile of P(up)")
        rel.legend(fontsize=8)

        labels: list[str] = []
        for s in wf.scores:
            for r in s.by_confidence:
                if r.hit_rate is None or r.hit_base is None:
                    continue
                i = len(labels)
                labels.append(f"{s.horizon}d {r.group}\n(n={r.n})")
                err = (
                    [[(r.hit_rate - r.hit_ci.low) * 100], [(r.hit_ci.high - r.hit_rate) * 100]]
                    if r.hit_ci
                    else None
                )
                conf.errorbar([i], [r.hit_rate * 100], yerr=err, fmt="o", capsize=4,
                              color=_COLOURS.get(s.horizon))  # fmt: skip
                conf.plot([i], [r.hit_base * 100], "x", color="tab:red", markersize=9)
        conf.plot([], [], "x", color="tab:red", label="base rate of the lean")
        conf.errorbar([], [], yerr=[], fmt="o", color="grey", label="lean right, 95% CI")
        conf.set_xticks(range(len(labels)), labels, fontsize=8)
        conf.set_xlim(-0.7, max(len(labels), 1) - 0.3)
        conf.set_ylabel("%")
        conf.set_title("Is each confidence level earned?")
        conf.legend(fontsize=8)

        names: list[str] = []
        ours: list[float] = []
        band: list[float] = []
        nominal: list[float] = []
        for s in wf.scores:
            for c in s.coverage:
                names.append(f"{s.horizon}d {c.level:.0%}")
                ours.append((c.coverage or 0) * 100)
                band.append((c.ref_coverage or 0) * 100)
                nominal.append(c.level * 100)
        xs = range(len(names))
        cov.bar([i - 0.2 for i in xs], ours, 0.4, label="forecast ranges")
        cov.bar([i + 0.2 for i in xs], band, 0.4, label="constant 1-year band", alpha=0.6)
        tol = COVERAGE_TOLERANCE * 100
        for i, nom in zip(xs, nominal, strict=True):
            cov.plot([i - 0.45, i + 0.45], [nom, nom], "k-", lw=1)
            cov.fill_between([i - 0.45, i + 0.45], nom - tol, nom + tol, color="k", alpha=0.1)
        cov.set_xticks(list(xs), names)
        cov.set_ylim(50, 100)
        cov.set_ylabel("coverage, % (band: nominal +-2 points)")
        cov.set_title("Range coverage")
        cov.legend(fontsize=8, loc="upper left")

        fig.suptitle(
            f"Walk-forward {wf.first_date} .. {wf.last_date} (warm-up {wf.warmup} days, "
            "no look-ahead)",
            fontsize=11,
        )
        if wf.notes:
            fig.text(0.01, 0.005, " | ".join(wf.notes), fontsize=7, color="dimgrey")
        fig.tight_layout(rect=(0, 0.03, 1, 0.95))
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise UserInputError(f"cannot write the chart to {path}: {exc}") from exc
    finally:
        plt.close(fig)
    log.info("walk-forward chart written to %s", path)
    return path
