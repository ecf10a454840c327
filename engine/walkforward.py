"""Walk-forward replay of the forecaster, and the scores that say whether it earns its words.

The replay reads the forecast pipeline (:func:`engine.forecast.forecast_arrays`, computed
once and causal) on every day after the warm-up: day ``t``'s figures are those a state
built on the data cut at ``t`` would show. The outcome ``r_h`` is used only for scoring.
:func:`score` is shared with the live forecast ledger (:mod:`sources.ledger`), so both
report the same figures the same way.

Per horizon, over the days whose outcome is known:

* **verdict**: Brier of the forecast against the running base rate (the baseline to
  beat), the mean difference ``(p - y)^2 - (b - y)^2`` with a paired moving-block
  bootstrap 95% interval (:data:`BOOTSTRAP_BLOCK`-day blocks, which hold the overlap of
  5-day windows and volatility clusters, :data:`BOOTSTRAP_RESAMPLES` resamples, seeded):
  "beats" when the interval is below 0, "worse" when above, else "ties";
* **skills**: hit rate (direction up when ``prob_up >= 0.5``), Brier and log-loss (nats,
  probabilities clipped to ``[1e-6, 1 - 1e-6]``) of the forecast and of the base rate;
  "always up" is scored on its hit rate only (a probability of one is no forecast);
* **reliability** per confidence level and per decile of predicted P(up): predicted,
  realised with a Wilson 95% interval, and for confidence levels the lean's hit rate
  (the call, or the side of the base rate P(up) leans to) against the lean's base rate;
  intervals use ``n / inflation(h)`` cases, since overlapping 5-day windows are not
  independent (:func:`engine.causal.overlap_inflation`);
* **coverage** of the 68% and 90% ranges (the realised log return inside the range),
  their mean width, and the same for the volatility-only baseline: a constant band from
  the trailing 1-year realised volatility with the same empirical quantiles
  (:func:`engine.volatility.reference_arrays`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from engine.calibration import REASONS
from engine.causal import FloatArray, overlap_inflation, wilson_bounds
from engine.errors import InputDataError, InsufficientHistoryError
from engine.forecast import HorizonArrays
from engine.prepared import Prepared
from engine.state import Frozen, Interval
from engine.volatility import (
    MODELS,
    RANGE_LEVELS,
    MoveArrays,
    VolSettings,
    horizon_log_returns,
    reference_arrays,
)

EPS = 1e-6
MIN_WARMUP = 250
BOOTSTRAP_BLOCK = 21
BOOTSTRAP_RESAMPLES = 2000
DECILES = 10
#: Decimals of the probabilities a state shows; the replay scores the same figures.
PROB_DECIMALS = 4

_CALL_NAMES = {0: "Neutral", 1: "Bullish", -1: "Bearish"}
_CONFIDENCE_NAMES = ("low", "medium", "high")


class Skill(Frozen):
    """Hit rate, Brier and log-loss of one forecaster over the same days."""

    name: str
    hit_rate: float | None
    brier: float | None = None
    log_loss: float | None = None


class BrierVerdict(Frozen):
    """Does the forecast beat the running base rate? Paired, with a bootstrap interval."""

    n: int
    brier: float
    base_brier: float
    diff: float = Field(description="Mean Brier difference, forecast minus base rate")
    diff_ci: Interval | None = Field(None, description="Moving-block bootstrap 95%")
    log_loss: float
    base_log_loss: float
    outcome: Literal["beats", "ties", "worse"]


class ReliabilityRow(Frozen):
    """One group of forecasts: what they said and what happened."""

    group: str = Field(description="'low', 'medium', 'high', or the decile number")
    n: int
    n_calls: int = 0
    p_low: float
    p_high: float
    predicted: float = Field(description="Mean predicted P(up)")
    realised: float = Field(description="Share of these days that went up")
    realised_ci: Interval | None = Field(None, description="Wilson 95% on n / inflation")
    base: float = Field(description="Mean running base rate on these days")
    hit_rate: float | None = Field(None, description="Share that went the lean's way")
    hit_ci: Interval | None = None
    hit_base: float | None = Field(None, description="Mean base rate of the lean")


class CoverageRow(Frozen):
    """How often the realised move fell inside a range, beside the constant band."""

    level: float
    n: int
    coverage: float | None
    mean_width: float | None = Field(None, description="Mean width, log-return units")
    ref_n: int = 0
    ref_coverage: float | None = None
    ref_width: float | None = None
    width_ratio: float | None = Field(None, description="Mean width / constant band's")


class Count(Frozen):
    name: str
    n: int


class HorizonScore(Frozen):
    horizon: int
    n: int = Field(description="Scored forecasts (outcome known)")
    n_calls: int = Field(description="Bullish or Bearish calls among them")
    call_hit_rate: float | None = Field(None, description="Right direction, calls only")
    model: Skill
    baselines: tuple[Skill, ...]
    verdict: BrierVerdict | None = None
    by_confidence: tuple[ReliabilityRow, ...] = ()
    deciles: tuple[ReliabilityRow, ...] = ()
    coverage: tuple[CoverageRow, ...] = ()
    reasons: tuple[Count, ...] = Field((), description="Why-low reasons, days each")
    vol_models: tuple[Count, ...] = Field((), description="Volatility model, days each")


def _skill(name: str, prob: FloatArray, y: FloatArray, *, probabilistic: bool = True) -> Skill:
    if prob.size == 0:
        return Skill(name=name, hit_rate=None)
    hit = float(((prob >= 0.5) == (y > 0.5)).mean())
    if not probabilistic:
        return Skill(name=name, hit_rate=hit)
    p = np.clip(prob, EPS, 1.0 - EPS)
    return Skill(
        name=name,
        hit_rate=hit,
        brier=float(np.mean((prob - y) ** 2)),
        log_loss=float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))),
    )


def brier_verdict(p: FloatArray, b: FloatArray, y: FloatArray, seed: int = 0) -> BrierVerdict:
    """The paired Brier comparison of the module docstring (``n >= 1``).

    Each resample is the mean of ``ceil(n / block)`` randomly started blocks, computed
    from the block means of a cumulative sum, so 2,000 resamples of 6,000 days take
    milliseconds.
    """
    d = (p - y) ** 2 - (b - y) ** 2
    n = int(d.size)
    ci = None
    if n >= 2:
        block = min(BOOTSTRAP_BLOCK, n)
        c = np.concatenate([[0.0], np.cumsum(d)])
        block_means = (c[block:] - c[:-block]) / block
        rng = np.random.default_rng(seed)
        starts = rng.integers(0, n - block + 1, size=(BOOTSTRAP_RESAMPLES, -(-n // block)))
        lo, hi = np.percentile(block_means[starts].mean(axis=1), [2.5, 97.5])
        ci = Interval(low=float(lo), high=float(hi))
    model, base = _skill("forecast", p, y), _skill("base rate", b, y)
    outcome: Literal["beats", "ties", "worse"] = "ties"
    if ci is not None and ci.high < 0:
        outcome = "beats"
    elif ci is not None and ci.low > 0:
        outcome = "worse"
    return BrierVerdict(
        n=n,
        brier=model.brier or 0.0,
        base_brier=base.brier or 0.0,
        diff=float(d.mean()),
        diff_ci=ci,
        log_loss=model.log_loss or 0.0,
        base_log_loss=base.log_loss or 0.0,
        outcome=outcome,
    )


def _interval(share: float, n_eff: float) -> Interval | None:
    if n_eff <= 0:
        return None
    lo, hi = wilson_bounds(share, n_eff)
    return Interval(low=float(lo), high=float(hi))


def _row(
    group: str, m: npt.NDArray[np.bool_], p: FloatArray, b: FloatArray, y: FloatArray,
    calls: npt.NDArray[np.int8], inflation: float, *, lean_hits: bool,
) -> ReliabilityRow:  # fmt: skip
    n = int(m.sum())
    realised = float(y[m].mean())
    hit = hit_ci = hit_base = None
    if lean_hits:
        lean = np.where(calls[m] != 0, calls[m], np.where(p[m] >= b[m], 1, -1))
        hits = np.where(lean > 0, y[m], 1.0 - y[m])
        hit = float(hits.mean())
        hit_ci = _interval(hit, n / inflation)
        hit_base = float(np.where(lean > 0, b[m], 1.0 - b[m]).mean())
    return ReliabilityRow(
        group=group,
        n=n,
        n_calls=int((calls[m] != 0).sum()),
        p_low=float(p[m].min()),
        p_high=float(p[m].max()),
        predicted=float(p[m].mean()),
        realised=realised,
        realised_ci=_interval(realised, n / inflation),
        base=float(b[m].mean()),
        hit_rate=hit,
        hit_ci=hit_ci,
        hit_base=hit_base,
    )


def score(
    horizon: int,
    prob_up: Sequence[float] | FloatArray,
    base_rate: Sequence[float] | FloatArray,
    calls: Sequence[str],
    up: Sequence[bool] | npt.NDArray[np.bool_],
    *,
    confidence: Sequence[str] | None = None,
    seed: int = 0,
) -> HorizonScore:
    """Score forecasts with known outcomes (definitions in the module docstring).

    ``confidence`` (one level per forecast) adds the reliability table per level.
    """
    p = np.asarray(prob_up, dtype=np.float64)
    b = np.asarray(base_rate, dtype=np.float64)
    y = np.asarray(up, dtype=bool).astype(np.float64)
    names = np.asarray(list(calls), dtype=object)
    code = np.where(names == "Bullish", 1, np.where(names == "Bearish", -1, 0)).astype(np.int8)
    directional = code != 0
    n_calls = int(directional.sum())
    call_hit = None
    if n_calls:
        right = np.where(code > 0, y, 1.0 - y)
        call_hit = float(right[directional].mean())
    inflation = overlap_inflation(horizon)
    by_confidence: list[ReliabilityRow] = []
    if confidence is not None and p.size:
        levels = np.asarray(list(confidence), dtype=object)
        for level in _CONFIDENCE_NAMES:
            m = levels == level
            if m.any():
                by_confidence.append(_row(level, m, p, b, y, code, inflation, lean_hits=True))
    deciles: list[ReliabilityRow] = []
    order = np.argsort(p, kind="stable")
    for i, part in enumerate(np.array_split(order, DECILES) if p.size else []):
        if part.size:
            m = np.zeros(p.size, dtype=bool)
            m[part] = True
            deciles.append(_row(str(i + 1), m, p, b, y, code, inflation, lean_hits=False))
    return HorizonScore(
        horizon=horizon,
        n=int(p.size),
        n_calls=n_calls,
        call_hit_rate=call_hit,
        model=_skill("forecast", p, y),
        baselines=(
            _skill("base rate", b, y),
            _skill("always up", np.ones(p.size), y, probabilistic=False),
        ),
        verdict=brier_verdict(p, b, y, seed) if p.size else None,
        by_confidence=tuple(by_confidence),
        deciles=tuple(deciles),
    )


def coverage(
    outcome: FloatArray, move: MoveArrays, reference: MoveArrays, mask: npt.NDArray[np.bool_]
) -> tuple[CoverageRow, ...]:
    """Coverage and mean width of each range over ``mask`` rows with a known outcome and a
    range, beside the reference band on the rows where both exist (paired widths)."""
    m = mask & np.isfinite(outcome) & np.isfinite(move.sd)
    paired = m & np.isfinite(reference.sd)
    rows = []
    for level in RANGE_LEVELS:
        lo, hi = move.bounds(level)
        rlo, rhi = reference.bounds(level)
        inside = (outcome >= lo) & (outcome <= hi)
        ref_inside = (outcome >= rlo) & (outcome <= rhi)
        width, ref_width = hi - lo, rhi - rlo
        has, has_ref = bool(m.any()), bool(paired.any())
        rows.append(
            CoverageRow(
                level=level,
                n=int(m.sum()),
                coverage=float(inside[m].mean()) if has else None,
                mean_width=float(width[m].mean()) if has else None,
                ref_n=int(paired.sum()),
                ref_coverage=float(ref_inside[paired].mean()) if has_ref else None,
                ref_width=float(ref_width[paired].mean()) if has_ref else None,
                width_ratio=float(width[paired].mean() / ref_width[paired].mean())
                if has_ref
                else None,
            )
        )
    return tuple(rows)


# --------------------------------------------------------------------------- replay


class WalkDay(Frozen):
    """One replayed forecast: made on ``date`` with data up to ``date`` only."""

    date: dt.date
    horizon: int
    prob_up: float
    base_rate: float
    call: str
    confidence: str = "low"
    sigma: float | None = Field(None, description="Forecast sd of the h-day log return")
    realized_return: float | None = Field(None, description="r_h from date; None at the end")


class WalkForward(Frozen):
    """The replay and its scores; ``days`` holds every forecast, scored or not."""

    first_date: dt.date
    last_date: dt.date
    warmup: int
    days: tuple[WalkDay, ...]
    scores: tuple[HorizonScore, ...]
    notes: tuple[str, ...] = ()


def _counts(names: Sequence[str | None], codes: npt.NDArray[np.int8]) -> tuple[Count, ...]:
    tally = np.bincount(codes.astype(np.int64), minlength=len(names))
    return tuple(Count(name=str(n), n=int(k)) for n, k in zip(names, tally, strict=False) if k)


def _score_horizon(
    a: HorizonArrays, prepared: Prepared, rows: npt.NDArray[np.bool_]
) -> HorizonScore:
    h = a.horizon
    known = rows & ~np.isnan(a.up)
    p = np.round(a.p, PROB_DECIMALS)
    b = np.round(a.base, PROB_DECIMALS)
    code = a.decisions.call
    s = score(
        h,
        p[known],
        b[known],
        [_CALL_NAMES[c] for c in code[known].tolist()],
        a.up[known] > 0.5,
        confidence=[_CONFIDENCE_NAMES[c] for c in a.decisions.confidence[known].tolist()],
    )
    vs = VolSettings.of(prepared.params)
    adj = prepared.dataset.frame["adj_close"].to_numpy(dtype=np.float64)
    low = a.decisions.confidence[known] == 0
    with_model = known & (a.move.model >= 0)
    return s.model_copy(
        update={
            "coverage": coverage(
                horizon_log_returns(adj, h), a.move, reference_arrays(adj, h, vs), rows
            ),
            "reasons": _counts([r or "earned" for r in REASONS], a.decisions.reason[known][low]),
            "vol_models": _counts(MODELS, a.move.model[with_model]),
        }
    )


def walk_forward(
    prepared: Prepared, *, warmup: int = MIN_WARMUP, notes: Sequence[str] = ()
) -> WalkForward:
    """Replay the forecaster on every day after ``warmup`` days and score it.

    Each day's forecast is row ``t`` of ``prepared.forecast`` (what ``state_at`` shows on
    that day); the outcome is the forward return ``r_h`` from ``prepared.fwd``. Caveats
    of the inputs (a stand-in series, synthetic data) come first in ``notes``.
    """
    if warmup < MIN_WARMUP:
        raise InputDataError(f"the walk-forward needs at least {MIN_WARMUP} warm-up days")
    dates = prepared.dates
    if len(dates) <= warmup + 1:
        raise InsufficientHistoryError(
            f"the walk-forward needs more than {warmup + 1} trading days; the data has "
            f"{len(dates)} ({dates[0].date()} .. {dates[-1].date()})"
            if len(dates)
            else "the walk-forward needs data; none was given"
        )
    arrays = prepared.forecast
    rows = np.arange(len(dates)) >= warmup
    days: list[WalkDay] = []
    day_list = [d.date() for d in dates[warmup:]]
    scores = []
    for h in sorted(arrays.horizons):
        a = arrays.horizons[h]
        r = prepared.fwd[f"r{h}"].to_numpy(dtype=np.float64)[warmup:]
        p = np.round(a.p[warmup:], PROB_DECIMALS).tolist()
        b = np.round(a.base[warmup:], PROB_DECIMALS).tolist()
        calls = a.decisions.call[warmup:].tolist()
        conf = a.decisions.confidence[warmup:].tolist()
        sd = a.move.sd[warmup:].tolist()
        for i, day in enumerate(day_list):
            days.append(
                WalkDay.model_construct(
                    date=day,
                    horizon=h,
                    prob_up=p[i],
                    base_rate=b[i],
                    call=_CALL_NAMES[calls[i]],
                    confidence=_CONFIDENCE_NAMES[conf[i]],
                    sigma=sd[i] if np.isfinite(sd[i]) else None,
                    realized_return=None if np.isnan(r[i]) else float(r[i]),
                )
            )
        scores.append(_score_horizon(a, prepared, rows))
    days.sort(key=lambda d: d.date)
    return WalkForward(
        first_date=dates[warmup].date(),
        last_date=dates[-1].date(),
        warmup=warmup,
        days=tuple(days),
        scores=tuple(scores),
        notes=(*_input_notes(prepared), *notes),
    )


def _input_notes(prepared: Prepared) -> tuple[str, ...]:
    provenance = prepared.dataset.provenance
    out = [f"{p.series}: {p.note}" for p in provenance if p.note]
    if any(p.synthetic for p in provenance):
        out.append("synthetic demo data: these figures say nothing about the real market")
    return tuple(out)
