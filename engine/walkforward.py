"""Walk-forward replay of the forecaster, and scoring forecasts beside two baselines.

The scoring is shared by the walk-forward replay below and the live forecast
ledger (:mod:`sources.ledger`) so both report the same figures the same way.

Inputs per forecast: ``prob_up`` (the forecast's P(r_h > 0)), ``base_rate`` (the running
unconditional P(r_h > 0) known on the forecast day), the ``call`` ("Bullish", "Bearish",
"Neutral") and the realised outcome ``up`` (r_h > 0).

* hit rate: fraction of days whose direction (up when ``prob_up >= 0.5``) matched the
  outcome, over every day, so it compares directly with the baselines; the *call* hit
  rate counts only the days with a Bullish/Bearish call, beside their coverage;
* Brier score: mean of ``(prob_up - up)^2``, lower is better (0.25 for a coin);
* log-loss: mean of ``-log p(outcome)``, probabilities clipped to ``[1e-6, 1 - 1e-6]``,
  in nats, lower is better (0.693 for a coin);
* baselines: "base rate" forecasts ``base_rate`` every day; "always up" forecasts up
  with certainty for the hit rate and, since a probability of 1 has an infinite
  log-loss on any down day, ``prob_up = 1 - 1e-6`` for Brier and log-loss.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from pydantic import Field

from engine.audit import PitCounts, forward_arrays, pit_counts
from engine.edge import HORIZONS
from engine.errors import InputDataError, InsufficientHistoryError
from engine.forecast import make_forecast
from engine.frame import as_of_row
from engine.prepared import Prepared
from engine.state import Forecast, Frozen, HorizonStats, RuleState
from engine.stats import independent_episodes

EPS = 1e-6
MIN_WARMUP = 250
BUCKETS: tuple[float, ...] = (0.0, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 1.0)


class Skill(Frozen):
    """Hit rate, Brier and log-loss of one forecaster over the same days."""

    name: str
    hit_rate: float | None
    brier: float | None
    log_loss: float | None


class CalibrationBin(Frozen):
    """Forecasts whose ``prob_up`` fell in ``[low, high)`` and how often the market rose."""

    low: float
    high: float
    n: int
    mean_prob: float | None
    realized: float | None = Field(description="Fraction of these days that went up")


class HorizonScore(Frozen):
    horizon: int
    n: int = Field(description="Scored forecasts (outcome known)")
    n_calls: int = Field(description="Bullish or Bearish calls among them")
    call_hit_rate: float | None = Field(None, description="Right direction, calls only")
    model: Skill
    baselines: tuple[Skill, ...]
    calibration: tuple[CalibrationBin, ...]


def _skill(name: str, prob: npt.NDArray[np.float64], up: npt.NDArray[np.bool_]) -> Skill:
    if prob.size == 0:
        return Skill(name=name, hit_rate=None, brier=None, log_loss=None)
    y = up.astype(np.float64)
    p = np.clip(prob, EPS, 1.0 - EPS)
    return Skill(
        name=name,
        hit_rate=float(((prob >= 0.5) == up).mean()),
        brier=float(np.mean((prob - y) ** 2)),
        log_loss=float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))),
    )


def score(
    horizon: int,
    prob_up: Sequence[float] | npt.NDArray[np.float64],
    base_rate: Sequence[float] | npt.NDArray[np.float64],
    calls: Sequence[str],
    up: Sequence[bool] | npt.NDArray[np.bool_],
    buckets: Sequence[float] = BUCKETS,
) -> HorizonScore:
    """Score forecasts with known outcomes (see the module docstring for definitions)."""
    p = np.asarray(prob_up, dtype=np.float64)
    b = np.asarray(base_rate, dtype=np.float64)
    y = np.asarray(up, dtype=bool)
    c = np.asarray(list(calls), dtype=object)
    directional = (c == "Bullish") | (c == "Bearish")
    n_calls = int(directional.sum())
    call_hit = None
    if n_calls:
        right = ((c == "Bullish") & y) | ((c == "Bearish") & ~y)
        call_hit = float(right[directional].mean())
    bins = []
    edges = list(buckets)
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        last = i == len(edges) - 2
        m = (p >= lo) & ((p <= hi) if last else (p < hi))
        k = int(m.sum())
        bins.append(
            CalibrationBin(
                low=lo,
                high=hi,
                n=k,
                mean_prob=float(p[m].mean()) if k else None,
                realized=float(y[m].mean()) if k else None,
            )
        )
    return HorizonScore(
        horizon=horizon,
        n=int(p.size),
        n_calls=n_calls,
        call_hit_rate=call_hit,
        model=_skill("forecast", p, y),
        baselines=(
            _skill("base rate", b, y),
            _skill("always up", np.full(p.size, 1.0 - EPS), y),
        ),
        calibration=tuple(bins),
    )


# --------------------------------------------------------------------------- replay


class WalkDay(Frozen):
    """One replayed forecast: made on ``date`` with data up to ``date`` only."""

    date: dt.date
    horizon: int
    prob_up: float
    base_rate: float
    call: str
    realized_return: float | None = Field(None, description="r_h from date; None at the end")


class WalkForward(Frozen):
    """The replay and its scores; ``days`` holds every forecast, scored or not."""

    first_date: dt.date
    last_date: dt.date
    warmup: int
    days: tuple[WalkDay, ...]
    scores: tuple[HorizonScore, ...]
    notes: tuple[str, ...] = ()


Forecaster = Callable[[Prepared, dt.date], Sequence[Forecast]]


def walk_forward(
    prepared: Prepared,
    *,
    warmup: int = MIN_WARMUP,
    forecaster: Forecaster | None = None,
    notes: Sequence[str] = (),
) -> WalkForward:
    """Replay the forecaster on every day after ``warmup`` days, expanding window.

    Each day's forecast comes from ``forecaster(prepared, day)`` (default:
    :func:`fast_forecaster`, equal to ``state_at``'s forecasts at a hundredth of the
    cost), which sees only windows closed by that day; the outcome is the forward return
    ``r_h`` from ``prepared.fwd``, used only for scoring.
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
    fc = forecaster or fast_forecaster(prepared)
    fwd = forward_arrays(prepared.fwd)
    days: list[WalkDay] = []
    for t in range(warmup, len(dates)):
        day = dates[t].date()
        for f in fc(prepared, day):
            r = fwd[f.horizon][t]
            days.append(
                WalkDay(
                    date=day,
                    horizon=f.horizon,
                    prob_up=f.prob_up,
                    base_rate=f.base_rate,
                    call=f.call,
                    realized_return=None if np.isnan(r) else float(r),
                )
            )
    return WalkForward(
        first_date=dates[warmup].date(),
        last_date=dates[-1].date(),
        warmup=warmup,
        days=tuple(days),
        scores=score_days(days),
        notes=tuple(notes),
    )


def score_days(days: Sequence[WalkDay]) -> tuple[HorizonScore, ...]:
    """Scores per horizon over the days whose outcome is known."""
    out = []
    for h in sorted({d.horizon for d in days}):
        ds = [d for d in days if d.horizon == h and d.realized_return is not None]
        out.append(
            score(
                h,
                [d.prob_up for d in ds],
                [d.base_rate for d in ds],
                [d.call for d in ds],
                [d.realized_return is not None and d.realized_return > 0 for d in ds],
            )
        )
    return tuple(out)


def fast_forecaster(prepared: Prepared) -> Forecaster:
    """A forecaster equal to ``state_at``'s forecasts, built once for the whole history.

    ``state_at`` measures every rule up to the day and hands the records to
    :func:`engine.forecast.make_forecast`. Here the point-in-time counts for every day
    come from cumulative sums (:func:`engine.audit.pit_counts`; episodes likewise, since
    greedy episodes up to a day are a prefix of the greedy episodes over all days), so
    a day costs one ``make_forecast`` call instead of a full state. The forecast only
    reads counts, win rates and the base rate, which this reproduces exactly; a test
    checks it against ``state_at`` on sampled days.
    """
    dates = prepared.dates
    specs = prepared.playbook.rules
    flavours = {r.name: r.flavour for r in specs}
    params = prepared.params
    fwd = forward_arrays(prepared.fwd)
    fired_now: dict[str, npt.NDArray[np.bool_]] = {}
    tables: dict[tuple[str, int], tuple[PitCounts, npt.NDArray[np.int64]]] = {}
    for spec in specs:
        col = prepared.fires[spec.name] if spec.name in prepared.fires.columns else None
        f = (
            np.zeros(len(dates), dtype=bool)
            if col is None
            else col.fillna(False).to_numpy(dtype=bool)
        )
        fired_now[spec.name] = f
        for h in HORIZONS:
            r = fwd[h]
            pc = pit_counts(f, r, h, spec.direction)
            marks = np.zeros(len(dates), dtype=np.int64)
            marks[independent_episodes(np.flatnonzero(f & ~np.isnan(r)), h)] = 1
            eps = np.zeros(len(dates), dtype=np.int64)
            eps[h:] = np.cumsum(marks)[: len(dates) - h]
            tables[(spec.name, h)] = (pc, eps)

    def forecast(_: Prepared, day: dt.date) -> Sequence[Forecast]:
        t = as_of_row(dates, day)
        rules = []
        for spec in specs:
            hs = []
            for h in HORIZONS:
                pc, eps = tables[(spec.name, h)]
                n, base_n = int(pc.n[t]), int(pc.base_n[t])
                hs.append(
                    HorizonStats.model_construct(
                        horizon=h,
                        n_fired=n,
                        n_episodes=int(eps[t]),
                        wins=int(pc.wins[t]),
                        win_rate=int(pc.wins[t]) / n if n else None,
                        base_n=base_n,
                        base_win_rate=int(pc.base_wins[t]) / base_n if base_n else None,
                    )
                )
            rules.append(
                RuleState.model_construct(
                    name=spec.name,
                    tier=spec.tier,
                    direction=spec.direction,
                    signal="",
                    rationale="",
                    available=True,
                    fired=bool(fired_now[spec.name][t]),
                    stats=tuple(hs),
                )
            )
        return tuple(make_forecast(rules, h, params, flavours) for h in HORIZONS)

    return forecast
