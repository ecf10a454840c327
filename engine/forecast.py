"""From the rules that fire today to a calibrated P(up), an earned call and the move's size.

The method (exact formulas in :mod:`engine.calibration` and :mod:`engine.volatility`):

* **P(up)**: the *cell* of fired rules (the exact set that fired today). Its
  point-in-time up-rate over its effective (overlap-deflated) cases is shrunk toward the
  running base rate with ``cell_prior_cases`` pseudo-cases (50); no rule fired means the
  base rate. Each day belongs to one cell, so nested rules are never counted twice: a
  narrow rule that always fires with a broad one gives the narrow cell's own record.
* **Calibration**: ``P = b + kappa (P_raw - b)``, ``kappa`` the ridge slope of the
  outcomes on the forecaster's own past forecasts (prior N(0, 0.5^2), clipped to
  [0, 1]), refitted daily, point in time.
* **Call and confidence**: Bullish/Bearish only when ``|P - b|`` exceeds ``call_z``
  (1.96) times its uncertainty *and* past forecasts like today's (same cell, same
  lean) did at least as well as their base rate; medium/high only when their Wilson
  95%/99% lower bound beats it. Otherwise Neutral and/or low, with the reason.
* **Move**: HAR-X in logs on range-based variance and VIX, refitted every 21 sessions,
  with the empirical quantiles of the last 1,000 standardised returns; EWMA(0.94) with
  normal quantiles as the fallback.

Why this and not the alternatives, by walk-forward on the real files (IWM 2000-05-26 ..
2026-08-21 with adjusted closes, CBOE VIX, SqueezeMetrics' SPX GEX as a stand-in from
2011; scored from 2001-05-24 after a 250-day warm-up; Brier difference from the running
base rate with a 95% moving-block bootstrap interval, blocks of 21 days):

* Measured with this code (``iwm-analyst walkforward``; 6,347 scored days at 1 day,
  6,343 at 5): Brier 0.24916 vs 0.24915 for the base rate at 1 day, difference
  +0.11e-4 [-0.35e-4, +0.53e-4]; 0.24766 vs 0.24766 at 5 days, +0.06e-4 [-0.06e-4,
  +0.19e-4]. No worse than the base rate, and not better: the playbook's rules carry
  no out-of-sample edge on this data, so after calibration P(up) stays within a tenth
  of a point of the base rate on average and every day is Neutral at low confidence
  (the lean's hit rate 52.9% [51.7, 54.1] against its 52.2% base at 1 day, 54.6%
  [52.2, 57.0] against 54.1% at 5 days). On synthetic data with a planted edge the same
  pipeline finds it, calibrates it and earns "high" (tests/engine/test_forecast.py).
* Alternatives, from the research walk-forward on the same data and span (same
  scoring): the previous tier-weighted log-odds sum +2.4e-4 [-1.1, +5.9] (1 day) and
  +2.4e-4 [-6.1, +11.4] (5 days) before calibration, with "high" 5-day calls realising
  48% up against a 56% base; an L2 logistic on the fired-rule indicators ties with the
  cell on Brier (+0.4e-4 / -0.4e-4 at lambda 30) but is not exact under nesting (it moves
  a nested rule's P by up to 1.2 points); cells with k = 20 / 200 give +1.6 / -0.1 (1 day).
  Calibration: Platt with an intercept +1.8e-4 / +5.2e-4 and isotonic +8.0e-4 / +28e-4
  (1 / 5 days) against +0.11e-4 / +0.06e-4 for the slope-only shrink chosen here. Calls
  at 1 sd instead of 1.96 lose (1-day Bullish calls right 39.5% against a 53.2% base).
* Ranges, measured with this code over 2001-05-24 .. 2026-08 (HAR-X on 95% of days):
  coverage 68.3% / 89.8% at 1 day and 67.9% / 89.5% at 5 days; mean width of the log
  return 2.64% / 4.35% at 1 day and 5.59% / 9.35% at 5 days, against 2.63% / 4.71% and
  5.62% / 10.13% for a constant band from the trailing 1-year realised volatility with
  the same quantiles (68.1% / 89.8% and 68.4% / 89.6% coverage): the 90% ranges are 7.6%
  and 7.7% narrower, the 68% ones the same width (+0.4%, -0.6%) but even across calm and
  stormy regimes. No model covers a crash onset: February-June 2020 covered 56% / 83%
  (1 day). Alternatives (research): EWMA(0.94) 68.3 / 89.7 with 4.49% 90% width (1 day),
  VIX scaled by a rolling beta 68.3 / 89.8 with 4.44%, HAR without VIX 4.34% with less
  even coverage across VIX regimes; HAR-X had the best interval score at both horizons.
* Runtime: the pipeline takes about 90 ms over 26 years and the whole walk-forward
  about 0.3 s (``make bench``), against a 2 s budget.

Every array is computed once per dataset (:func:`forecast_arrays`, cached on
:class:`engine.prepared.Prepared`) and is causal, so :func:`make_forecast` reads one row
and the walk-forward reads them all; day ``t`` of the full history equals day ``t`` of
the history cut at ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.calibration import (
    REASONS,
    CellRecord,
    Cells,
    DecisionRules,
    Decisions,
    calibrate,
    cell_probability,
    cell_record,
    cells_of,
    decide,
    edge_se,
)
from engine.causal import BoolArray, FloatArray, running_rate, up_outcomes, wilson_bounds
from engine.state import (
    Call,
    Confidence,
    Driver,
    EngineParams,
    Forecast,
    Interval,
    MoveRange,
    RangeBand,
    Record,
    RecordVsLabel,
    RuleState,
    stance_of,
)
from engine.volatility import MODELS, RANGE_LEVELS, MoveArrays, VolSettings, move_arrays

_CALLS: dict[int, Call] = {1: "Bullish", -1: "Bearish", 0: "Neutral"}
_CONFIDENCE: tuple[Confidence, ...] = ("low", "medium", "high")
#: Trading days in a year, to annualise sigma.
_YEAR = 252


@dataclass(frozen=True)
class HorizonArrays:
    """Every figure of one horizon's forecast on every row (all causal).

    ``up``: the outcome (1.0 up, 0.0 not, NaN unknown), used only through known rows;
    ``base``/``base_n``: running base rate and its known outcomes; ``p_raw``, ``p``,
    ``kappa``, ``se``: the cell estimate, the calibrated P(up), the calibration slope and
    the edge's uncertainty; ``cell``: today's cell's record; ``decisions``: call,
    confidence, reason and the bucket's record; ``move``: the ranges.
    """

    horizon: int
    up: FloatArray
    base: FloatArray
    base_n: FloatArray
    p_raw: FloatArray
    p: FloatArray
    kappa: FloatArray
    se: FloatArray
    cell: CellRecord
    decisions: Decisions
    move: MoveArrays


@dataclass(frozen=True)
class ForecastArrays:
    """The forecast pipeline over a whole dataset: rule names, cells and each horizon."""

    rules: tuple[str, ...]
    fired: BoolArray
    cells: Cells
    horizons: Mapping[int, HorizonArrays]


def forecast_arrays(
    frame: pd.DataFrame,
    fires: pd.DataFrame,
    fwd: pd.DataFrame,
    rules: Sequence[str],
    params: EngineParams,
    only: BoolArray | None = None,
) -> ForecastArrays:
    """Run the pipeline over every row of a daily frame.

    ``frame`` is the canonical daily frame (:mod:`engine.frame`), ``fires`` one boolean
    column per rule (a missing column never fires), ``fwd`` the forward returns ``r{h}``
    (:mod:`engine.edge`); the horizons are those of ``fwd``.

    ``only`` (a row mask) asks for the rows ``state_at`` reads: the base rates, cell
    records, P(up) and its calibration are still computed on every row (each row's
    calibration needs every earlier one), but the decisions' records and the ranges are
    exact on the masked rows only and hold placeholders elsewhere. It skips the
    per-refit quantile sorts and the fallback volatility models nobody reads, which are
    most of the pipeline's time; a masked row's figures equal the full run's bit for bit.
    """
    names = tuple(rules)
    t = len(frame)
    matrix = np.zeros((t, len(names)), dtype=bool)
    for i, name in enumerate(names):
        if name in fires.columns:
            matrix[:, i] = fires[name].fillna(False).to_numpy(dtype=bool)
    cells = cells_of(matrix)
    fired: BoolArray = np.asarray(matrix.any(axis=1), dtype=bool)
    col = {c: frame[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close")}
    adj = frame["adj_close"].to_numpy(dtype=np.float64)
    vix = frame["vix"].to_numpy(dtype=np.float64)
    vol = VolSettings.of(params)
    rules_of_call = DecisionRules(
        z_call=params.call_z,
        min_history=params.min_history,
        min_record=params.record_min_n,
        min_record_high=params.record_high_n,
        medium_level=params.medium_level,
        high_level=params.high_level,
    )
    k = params.cell_prior_cases
    out: dict[int, HorizonArrays] = {}
    for c in fwd.columns:
        h = int(str(c).removeprefix("r"))
        y = up_outcomes(fwd[c].to_numpy(dtype=np.float64))
        base, base_n = running_rate(y, h)
        record = cell_record(cells, y, h)
        p_raw = cell_probability(record, base, fired, k)
        p, kappa = calibrate(p_raw, base, y, h, params.calibration_prior_sd)
        se = edge_se(base, np.where(fired, record.n_eff, 0.0), kappa, k)
        out[h] = HorizonArrays(
            horizon=h,
            up=y,
            base=base,
            base_n=base_n,
            p_raw=p_raw,
            p=p,
            kappa=kappa,
            se=se,
            cell=record,
            decisions=decide(
                p, base, se, y, h, cells, base_n, fired, kappa, rules_of_call, only=only
            ),
            move=move_arrays(
                adj, col["open"], col["high"], col["low"], col["close"], vix, h, vol, only=only
            ),
        )
    return ForecastArrays(rules=names, fired=fired, cells=cells, horizons=out)


def move_range(move: MoveArrays, pos: int, close: float) -> MoveRange | None:
    """The ranges of row ``pos`` around the as-traded ``close``; None before any model."""
    sd = float(move.sd[pos])
    code = int(move.model[pos])
    if code < 0 or not math.isfinite(sd) or not math.isfinite(close):
        return None
    bands = []
    for j, level in enumerate(RANGE_LEVELS):
        lo, hi = float(move.q[pos, 2 * j]) * sd, float(move.q[pos, 2 * j + 1]) * sd
        bands.append(
            RangeBand(
                level=level,
                return_low=round(math.expm1(lo), 4),
                return_high=round(math.expm1(hi), 4),
                price_low=round(close * math.exp(lo), 2),
                price_high=round(close * math.exp(hi), 2),
            )
        )
    n = int(move.quantile_n[pos])
    return MoveRange(
        horizon=move.horizon,
        sigma=round(sd, 5),
        sigma_annualised=round(sd * math.sqrt(_YEAR / move.horizon), 3),
        model=MODELS[code],
        quantiles="empirical" if n > 0 else "normal",
        quantile_n=n,
        bands=tuple(bands),
    )


def driver(rule: RuleState, horizon: int) -> Driver:
    """A fired rule with its own record at ``horizon`` and how that record reads its label."""
    s = rule.stats_at(horizon)
    verdict: RecordVsLabel = "no record"
    if s is not None and s.n_fired > 0 and s.win_rate is not None and s.base_win_rate is not None:
        if s.win_rate >= s.base_win_rate:
            verdict = "agrees"
        elif s.win_rate_ci is not None and s.win_rate_ci.high < s.base_win_rate:
            verdict = "contradicts"
        else:
            verdict = "no better"
    return Driver(
        rule=rule.name,
        tier=rule.tier,
        direction=rule.direction,
        n=s.sample_size if s is not None else 0,
        win_rate=_rounded(s.win_rate if s is not None else None),
        base_win_rate=_rounded(s.base_win_rate if s is not None else None),
        record_vs_label=verdict,
    )


def _rounded(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def flavour(call: Call, drivers: Sequence[Driver], flavours: Mapping[str, str]) -> str:
    """The leading agreeing rule's playbook wording; the plain call word otherwise.

    The leading rule is the fired rule of the highest tier (then the largest sample)
    whose label points the way of the call; a bullish-labelled rule never gives a
    Bearish call its wording.
    """
    if call == "Neutral":
        return "Neutral"
    want = "bullish" if call == "Bullish" else "bearish"
    agreeing = [d for d in drivers if d.direction == want]
    if not agreeing:
        return call
    lead = min(agreeing, key=lambda d: (d.tier, -d.n))
    return flavours.get(lead.rule, call)


def make_forecast(
    arrays: ForecastArrays,
    pos: int,
    horizon: int,
    rules: Sequence[RuleState],
    close: float,
    flavours: Mapping[str, str],
    params: EngineParams,
) -> Forecast:
    """The forecast of row ``pos`` at ``horizon`` from the pipeline's arrays.

    ``rules`` are the day's measured rule states (for the drivers and their records),
    ``close`` the as-traded close the price ranges are built on.
    """
    a = arrays.horizons[horizon]
    d = a.decisions
    fired = bool(arrays.fired[pos])
    call = _CALLS[int(d.call[pos])]
    confidence = _CONFIDENCE[int(d.confidence[pos])]
    drivers = tuple(driver(r, horizon) for r in rules if r.fired)
    drivers = tuple(sorted(drivers, key=lambda x: (x.tier, -x.n)))
    base = float(a.base[pos])
    prob = float(a.p[pos])
    record = None
    n = float(d.record_n[pos])
    if fired and n > 0:
        n_eff = float(d.record_n_eff[pos])
        rate = float(d.record_hit_rate[pos])
        lo, hi = wilson_bounds(rate, n_eff, params.medium_level)
        record = Record(
            lean="up" if d.lean[pos] > 0 else "down",
            n=round(n),
            n_eff=round(n_eff, 1),
            hit_rate=round(rate, 4),
            base=round(float(d.record_base[pos]), 4),
            interval=Interval(
                low=round(float(lo), 4), high=round(float(hi), 4), level=params.medium_level
            ),
        )
    cell = arrays.cells.rules_of(int(arrays.cells.index[pos]), arrays.rules)
    cell_n = float(a.cell.n[pos])
    return Forecast(
        horizon=horizon,
        call=call,
        flavour=flavour(call, drivers, flavours),
        prob_up=round(prob, 4),
        base_rate=round(base, 4),
        base_n=int(a.base_n[pos]),
        confidence=confidence,
        confidence_reason=REASONS[int(d.reason[pos])],
        stance=stance_of(call, confidence),
        prob_up_raw=round(float(a.p_raw[pos]), 4),
        edge=round(prob - base, 4),
        edge_se=round(float(a.se[pos]), 5),
        calibration_slope=round(float(a.kappa[pos]), 3),
        cell=cell,
        cell_n=round(cell_n) if fired else 0,
        cell_n_eff=round(float(a.cell.n_eff[pos]), 1) if fired else 0.0,
        cell_up_rate=round(float(a.cell.wins[pos]) / cell_n, 4) if fired and cell_n else None,
        record=record,
        drivers=drivers,
        move=move_range(a.move, pos, close),
        method=_method(horizon, fired),
    )


def _method(horizon: int, fired: bool) -> str:
    if not fired:
        return f"no rule fired: the {horizon}-day base rate"
    return "the cell's up-rate, shrunk to the base rate, calibrated out of sample"
