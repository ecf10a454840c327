"""The playbook audit: the measured, point-in-time edge of every rule at 1 and 5 days.

For each rule and horizon ``h`` the audit counts the fires whose forward window had
closed by ``as_of`` (fire row ``i`` counts when ``i + h <= T``, ``T`` the as-of row),
and reports: fires, independent episodes, wins with a Wilson 95% interval, mean and
median forward return with a moving-block bootstrap 95% interval, the base rate over the
same span (every day with a closed window) and the lift over it, a one-sided exact
binomial p-value against the base rate, Benjamini-Hochberg q-values across all rules and
horizons, the playbook's claim and a verdict (:func:`engine.stats.verdict`).

Overlapping windows: at 5 days, neighbouring fires share most of their window, so they
are not independent observations. The Wilson interval and the binomial test use the
effective sample size of :func:`engine.stats.effective_sample_size` (the fire count
deflated by the correlation of overlapping windows) at the measured win rate; counting
every fire would overstate the certainty (a random rule that fires in runs then looks
significant 16% of the time instead of 5%). The "too few cases" gate counts
non-overlapping episodes. The bootstrap handles the same dependence with blocks of
``max(5, 2h)`` consecutive fires. At 1 day nothing changes.

A bearish rule wins when ``r_h < 0``; its ``base_win_rate`` is then P(r_h < 0) over
the same days, so ``lift`` compares like with like.

The same table is split by regime on the fire day: VIX below / at-or-above the high-VIX
threshold, GEX at-or-above / below zero. Each regime row's base rate is every day of that
regime; the regime rows form their own BH family.

Cost: everything except the bootstrap is a handful of vectorised array operations per
row. :func:`rule_stats` is what ``state_at`` calls: it computes the cheap figures for
every rule and the bootstrap only for the rules named in ``bootstrap_rules`` (the ones
that fire today), so a state stays fast while the rules a narrator quotes carry full
intervals.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field

from engine import stats
from engine.edge import HORIZONS
from engine.errors import InputDataError
from engine.frame import as_of_row
from engine.prepared import Prepared
from engine.rules import RuleSpec
from engine.state import Direction, Frozen, HorizonStats, Interval, RuleState

log = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


class AuditRow(Frozen):
    """One rule at one horizon, over all days or within one regime."""

    rule: str
    tier: int
    direction: Direction
    regime: str = Field("all", description="'all', 'VIX < 20', 'VIX >= 20', 'GEX >= 0', ...")
    stats: HorizonStats


class AuditTable(Frozen):
    """The full audit on ``as_of``; ``rows`` over all days, ``regimes`` split by regime."""

    as_of: dt.date
    first_date: dt.date
    n_days: int = Field(description="Trading days up to and including as_of")
    seed: int
    n_boot: int
    high_vix: float
    rows: tuple[AuditRow, ...]
    regimes: tuple[AuditRow, ...] = ()
    notes: tuple[str, ...] = ()


def _interval(pair: tuple[float, float] | None) -> Interval | None:
    return None if pair is None else Interval(low=pair[0], high=pair[1])


@dataclass(frozen=True)
class _Base:
    """What every rule shares at one horizon: the rows whose window closed by as_of
    (and in the subset), their returns, and the base rates by direction."""

    mask: BoolArray
    r: FloatArray
    n: int
    mean: float | None
    won: dict[float, BoolArray]  # by sign: +1 bullish, -1 bearish
    win_rate: dict[float, float | None]
    window_start: dt.date | None
    window_end: dt.date | None

    @classmethod
    def of(
        cls, r: FloatArray, dates: pd.DatetimeIndex, end: int, subset: BoolArray | None
    ) -> _Base:
        """``end`` is the last row whose forward window closed by as_of (``T - h``), or -1."""
        upto = np.zeros(r.shape[0], dtype=bool)
        if end >= 0:
            upto[: end + 1] = True
        mask = upto & ~np.isnan(r)
        if subset is not None:
            mask &= subset
        base_r = r[mask]
        n = int(base_r.size)
        won = {sign: (r * sign) > 0 for sign in (1.0, -1.0)}
        return cls(
            mask=mask,
            r=r,
            n=n,
            mean=float(base_r.mean()) if n else None,
            won=won,
            win_rate={s: float(w[mask].mean()) if n else None for s, w in won.items()},
            window_start=dates[int(np.argmax(mask))].date() if n else None,
            window_end=dates[end].date() if end >= 0 else None,
        )


def _one(
    *,
    fires: BoolArray,
    base: _Base,
    h: int,
    spec: RuleSpec,
    bootstrap: bool,
    seed: Sequence[int],
    n_boot: int,
) -> tuple[HorizonStats, float | None]:
    """Stats for one rule/horizon before q-values and verdicts. Returns (stats, p_below)."""
    r = base.r
    fire_mask = base.mask & fires
    sign = 1.0 if spec.direction == "bullish" else -1.0
    won = base.won[sign]
    base_n = base.n
    base_win = base.win_rate[sign]
    base_mean = base.mean
    pos = np.flatnonzero(fire_mask)
    fr = r[pos]
    n = int(pos.size)
    wins = int(won[pos].sum())
    claim = spec.claim_at(h)
    claim_wr = claim.win_rate if claim is not None else None
    claim_mr = claim.mean_return if claim is not None else None
    values: dict[str, Any] = {
        "horizon": h,
        "n_fired": n,
        "n_episodes": int(stats.independent_episodes(pos, h).size),
        "wins": wins,
        "base_n": base_n,
        "base_win_rate": base_win,
        "base_mean_return": base_mean,
        "claim_win_rate": claim_wr,
        "claim_mean_return": claim_mr,
        "window_start": base.window_start,
        "window_end": base.window_end,
    }
    p_below = None
    if n:
        win_rate = wins / n
        # Overlapping windows are not independent: the interval and the test use the
        # effective sample size (stats.effective_sample_size), at the measured win rate.
        n_eff = max(1, round(stats.effective_sample_size(pos, h)))
        k_eff = round(win_rate * n_eff)
        values["win_rate"] = win_rate
        ci = stats.wilson_interval(k_eff, n_eff)
        if ci is not None and k_eff != win_rate * n_eff:
            ci = _recentre(ci, k_eff / n_eff, win_rate)
        values["win_rate_ci"] = _interval(ci)
        values["mean_return"] = float(fr.mean())
        values["median_return"] = float(np.median(fr))
        if base_win is not None:
            values["lift"] = win_rate - base_win
            values["p_value"] = stats.binomial_p_greater(k_eff, n_eff, base_win)
            p_below = stats.binomial_p_less(k_eff, n_eff, base_win)
        if bootstrap:
            mean_ci, median_ci = stats.block_bootstrap_ci(
                fr, block=stats.block_length(h), n_boot=n_boot, seed=seed
            )
            values["mean_return_ci"] = _interval(mean_ci)
            values["median_return_ci"] = _interval(median_ci)
    return HorizonStats(**values), p_below


def _recentre(ci: tuple[float, float], at: float, to: float) -> tuple[float, float]:
    """Shift an interval computed at rate ``at`` so it sits around ``to`` (rounding fix)."""
    d = to - at
    return (max(0.0, ci[0] + d), min(1.0, ci[1] + d))


def _finish(rows: list[HorizonStats]) -> list[HorizonStats]:
    """Add BH q-values across ``rows`` (one family) and the verdicts."""
    qs = stats.bh_qvalues([s.p_value for s in rows])
    out = []
    for s, q in zip(rows, qs, strict=True):
        ci = s.win_rate_ci
        mci = s.mean_return_ci
        v = stats.verdict(
            n_episodes=s.n_episodes or 0,
            claim_win_rate=s.claim_win_rate,
            claim_mean_return=s.claim_mean_return,
            win_rate_ci=None if ci is None else (ci.low, ci.high),
            q_value=q,
            base_win_rate=s.base_win_rate,
            mean_return_ci=None if mci is None else (mci.low, mci.high),
            base_mean_return=s.base_mean_return,
        )
        out.append(s.model_copy(update={"q_value": q, "verdict": v}))
    return out


def rule_stats(
    fires: pd.DataFrame,
    fwd: Mapping[int, FloatArray],
    specs: Sequence[RuleSpec],
    as_of: dt.date | None = None,
    *,
    bootstrap_rules: Collection[str] = (),
    seed: int = 0,
    n_boot: int = stats.DEFAULT_RESAMPLES,
    subset: BoolArray | None = None,
    horizons: Sequence[int] = HORIZONS,
) -> dict[str, tuple[HorizonStats, ...]]:
    """Point-in-time stats of every rule in ``specs`` at every horizon, keyed by rule.

    ``fires`` holds one boolean column per rule on the daily index; ``fwd[h]`` is the
    forward return ``r_h`` per row (NaN where the window runs past the data). Only rows
    whose window closed by ``as_of`` count. q-values form one family over every rule
    and horizon returned. Bootstrap intervals only for rules in ``bootstrap_rules``.
    """
    dates = pd.DatetimeIndex(fires.index)
    t = as_of_row(dates, as_of)
    flat: list[tuple[str, HorizonStats]] = []
    bases = {
        h: _Base.of(np.asarray(fwd[h], dtype=np.float64), dates, t - h, subset) for h in horizons
    }
    for k, spec in enumerate(specs):
        col = fires[spec.name] if spec.name in fires.columns else None
        if col is None:
            f = np.zeros(len(dates), dtype=bool)
        elif col.dtype == np.bool_:  # no missing values to fill (the usual fires frame)
            f = col.to_numpy(dtype=bool)
        else:
            f = col.fillna(False).to_numpy(dtype=bool)
        for h in horizons:
            s, _ = _one(
                fires=f,
                base=bases[h],
                h=h,
                spec=spec,
                bootstrap=spec.name in bootstrap_rules,
                seed=(seed, k, h),
                n_boot=n_boot,
            )
            flat.append((spec.name, s))
    finished = _finish([s for _, s in flat])
    out: dict[str, list[HorizonStats]] = {}
    for (name, _), s in zip(flat, finished, strict=True):
        out.setdefault(name, []).append(s)
    return {k: tuple(v) for k, v in out.items()}


def regime_masks(frame: pd.DataFrame, high_vix: float) -> dict[str, BoolArray]:
    """Boolean row masks of the four regimes, judged on the fire day; NaN is in neither."""
    vix = frame["vix"].to_numpy(dtype=np.float64)
    gex = frame["gex"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return {
            f"VIX < {high_vix:g}": vix < high_vix,
            f"VIX >= {high_vix:g}": vix >= high_vix,
            "GEX >= 0": gex >= 0,
            "GEX < 0": gex < 0,
        }


def audit_frames(
    frame: pd.DataFrame,
    fires: pd.DataFrame,
    fwd: Mapping[int, FloatArray],
    specs: Sequence[RuleSpec],
    *,
    high_vix: float,
    as_of: dt.date | None = None,
    seed: int = 0,
    n_boot: int = stats.DEFAULT_RESAMPLES,
    notes: Sequence[str] = (),
) -> AuditTable:
    """The full audit from plain inputs (see :func:`audit` for the usual entry point)."""
    dates = pd.DatetimeIndex(frame.index)
    t = as_of_row(dates, as_of)
    if t < 0:
        raise InputDataError(f"no data on or before {as_of}; the data starts {dates[0].date()}")
    names = [s.name for s in specs]
    main = rule_stats(fires, fwd, specs, as_of, bootstrap_rules=names, seed=seed, n_boot=n_boot)
    rows = [
        AuditRow(rule=s.name, tier=s.tier, direction=s.direction, stats=hs)
        for s in specs
        for hs in main[s.name]
    ]
    regime_rows: list[AuditRow] = []
    flat: list[tuple[RuleSpec, str, HorizonStats]] = []
    for r_i, (label, mask) in enumerate(regime_masks(frame, high_vix).items()):
        part = rule_stats(
            fires,
            fwd,
            specs,
            as_of,
            bootstrap_rules=names,
            seed=seed + 1000 * (r_i + 1),
            n_boot=n_boot,
            subset=mask,
        )
        flat.extend((s, label, hs) for s in specs for hs in part[s.name])
    finished = _finish([hs for _, _, hs in flat])
    for (s, label, _), hs in zip(flat, finished, strict=True):
        regime_rows.append(
            AuditRow(rule=s.name, tier=s.tier, direction=s.direction, regime=label, stats=hs)
        )
    return AuditTable(
        as_of=dates[t].date(),
        first_date=dates[0].date(),
        n_days=t + 1,
        seed=seed,
        n_boot=n_boot,
        high_vix=high_vix,
        rows=tuple(rows),
        regimes=tuple(regime_rows),
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class PitCounts:
    """Point-in-time counts for every as-of row ``T`` (arrays indexed by ``T``).

    ``n[T]``/``wins[T]``: fires with a window closed by ``T`` and how many won;
    ``base_n[T]``/``base_wins[T]``: the same over every day. Built with cumulative sums,
    so the whole history costs a few array operations (used by the walk-forward).
    """

    horizon: int
    n: npt.NDArray[np.int64]
    wins: npt.NDArray[np.int64]
    base_n: npt.NDArray[np.int64]
    base_wins: npt.NDArray[np.int64]


def pit_counts(fires: BoolArray, r: FloatArray, h: int, direction: Direction) -> PitCounts:
    """Counts as :func:`rule_stats` would see them on every as-of row, in one pass."""
    r = np.asarray(r, dtype=np.float64)
    valid = ~np.isnan(r)
    sign = 1.0 if direction == "bullish" else -1.0
    won = valid & ((r * sign) > 0)
    f = np.asarray(fires, dtype=bool) & valid

    def shifted(x: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        c = np.cumsum(x, dtype=np.int64)
        out = np.zeros_like(c)
        out[h:] = c[: c.size - h] if h else c
        return out

    return PitCounts(
        horizon=h,
        n=shifted(f),
        wins=shifted(f & won),
        base_n=shifted(valid),
        base_wins=shifted(won),
    )


def audit(
    prepared: Prepared,
    as_of: dt.date | None = None,
    seed: int = 0,
    n_boot: int = stats.DEFAULT_RESAMPLES,
) -> AuditTable:
    """The full audit of a prepared dataset: every rule x horizon, then by regime.

    Only windows that closed by ``as_of`` (default: the last day) count. Caveats of the
    inputs (e.g. a stand-in GEX series, synthetic data) are carried into ``notes``.
    """
    provenance = prepared.dataset.provenance
    notes = [f"{p.series}: {p.note}" for p in provenance if p.note]
    if any(p.synthetic for p in provenance):
        notes.append("synthetic demo data: these figures say nothing about the real market")
    return audit_frames(
        prepared.dataset.frame,
        prepared.fires,
        forward_arrays(prepared.fwd),
        prepared.playbook.rules,
        high_vix=prepared.params.high_vix,
        as_of=as_of,
        seed=seed,
        n_boot=n_boot,
        notes=notes,
    )


def forward_arrays(fwd: pd.DataFrame) -> dict[int, FloatArray]:
    """The ``r_h`` columns of a forward-return frame (:mod:`engine.edge`) by horizon."""
    return {h: fwd[f"r{h}"].to_numpy(dtype=np.float64) for h in HORIZONS}


def enrich_rule_states(
    prepared: Prepared, rules: Sequence[RuleState], as_of: dt.date | None, seed: int = 0
) -> tuple[RuleState, ...]:
    """``rules`` with ``stats`` replaced by the audit figures for ``as_of``.

    What ``state_at`` calls. Every rule gets the cheap figures (counts, Wilson interval,
    base rate, lift, p, BH q across all rules and horizons, claim, verdict); the rules
    that fire today also get the block-bootstrap intervals of the mean and median
    (those are the ones a narrator quotes, and the bootstrap is the expensive part).
    """
    fired = {r.name for r in rules if r.fired}
    by_rule = rule_stats(
        prepared.fires,
        forward_arrays(prepared.fwd),
        prepared.playbook.rules,
        as_of,
        bootstrap_rules=fired,
        seed=seed,
    )
    return tuple(
        r.model_copy(update={"stats": by_rule[r.name]}) if r.name in by_rule else r for r in rules
    )
