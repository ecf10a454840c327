"""P(up) from the set of rules that fired, calibrated out of sample, and the call it earns.

Everything here works on whole histories at once and is causal (:mod:`engine.causal`):
row ``t`` uses only outcomes known at the close of ``t``. For a horizon ``h``:

1. **Cells.** A *cell* is the exact set of rules that fired on a day. Every day belongs
   to exactly one cell, so nested or overlapping rules (``Negative_GEX_AND_High_VIX``
   always fires with ``GEX_Negative``) cannot be counted twice.
2. **Cell estimate.** From the known days of today's cell: ``n`` outcomes, ``w`` up and
   the effective count ``n_eff`` (``n`` deflated for overlapping windows,
   ``n / (1 + 2 * sum of rho_d over same-cell pairs d < h apart / n)``, the formula of
   :func:`engine.stats.effective_sample_size` kept cumulatively). The raw forecast is
   ``P_raw = (n_eff * w / n + k * b) / (n_eff + k)``: the cell's up-rate shrunk toward the
   running base rate ``b`` with ``k`` pseudo-cases. No rule fired, or a cell never seen
   before: ``P_raw = b`` exactly.
3. **Calibration** on the forecaster's own past forecasts:
   ``P = b + kappa * (P_raw - b)``, ``kappa`` the ridge slope of ``y_s - b_s`` on
   ``P_raw,s - b_s`` over the known rows with a prior N(0, prior_sd^2) (no edge until
   shown): ``kappa = clip(sum x e / (sum x^2 + tau), 0, 1)``,
   ``tau = inflation(h) * 0.25 / prior_sd^2``. It never amplifies or inverts an edge.
4. **Uncertainty of the edge** ``P - b``: ``se = kappa * sqrt(b (1 - b) / (n_eff + k))``,
   the noise of the shrunk cell rate under "no edge", scaled like the edge. Zero when
   nothing fired.
5. **Call and confidence.** A day is a *candidate* when ``|P - b| > z_call * se``. Its
   *bucket* is (cell, lean), lean the sign of ``P - b``. The bucket's *record* is the
   past candidates in it with a known outcome: how often the outcome went the lean's
   way against the lean's base (mean of ``b`` or ``1 - b`` on those days), over
   ``n / inflation(h)`` effective cases. The call (Bullish/Bearish) stands when the day
   is a candidate, at least ``min_history`` outcomes are known, the record has at least
   ``min_record`` effective cases and its hit rate is at or above its base; otherwise
   Neutral. Medium: the record's Wilson lower bound at ``medium_level`` is above its
   base; high: also at ``high_level`` with at least ``min_record_high`` cases. Every
   other day is "low", with the first reason of :data:`REASONS` that applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.causal import (
    BoolArray,
    FloatArray,
    IntArray,
    known_cumsum,
    known_group_sum,
    overlap_inflation,
    overlap_rho,
    wilson_bounds,
)
from engine.state import ConfidenceReason

Int8Array = npt.NDArray[np.int8]

#: Why a day's confidence is low, by code (0: not low). The first that applies wins.
REASONS: Final[tuple[ConfidenceReason | None, ...]] = (
    None,
    "short_history",
    "no_rule_fired",
    "rules_carry_no_weight",
    "edge_within_uncertainty",
    "few_past_forecasts",
    "record_below_base",
    "record_not_clear",
)

#: Bernoulli variance of an outcome near even odds, the noise scale of the calibration.
_OUTCOME_VARIANCE: Final = 0.25


@dataclass(frozen=True)
class Cells:
    """The cell of every row: ``index[t]`` labels the set of rules fired on ``t``.

    ``codes[c]`` has bit ``i`` set when rule ``i`` is in cell ``c``; ``empty`` is the
    cell where no rule fired (None if every day had one). Labels are only labels: the
    forecast never depends on their order.
    """

    index: IntArray
    codes: IntArray
    empty: int | None

    def rules_of(self, cell: int, names: tuple[str, ...]) -> tuple[str, ...]:
        """The names of the rules in ``cell``, in playbook order."""
        code = int(self.codes[cell])
        return tuple(name for i, name in enumerate(names) if code >> i & 1)


def cells_of(fires: BoolArray) -> Cells:
    """Cells from a ``T x R`` boolean array of rule fires (at most 62 rules)."""
    f = np.asarray(fires, dtype=bool)
    weights = np.left_shift(np.int64(1), np.arange(f.shape[1], dtype=np.int64))
    code = (f.astype(np.int64) * weights).sum(axis=1)
    codes, index = np.unique(code, return_inverse=True)
    empty = np.flatnonzero(codes == 0)
    return Cells(
        index=index.astype(np.int64).reshape(-1),
        codes=codes.astype(np.int64),
        empty=int(empty[0]) if empty.size else None,
    )


@dataclass(frozen=True)
class CellRecord:
    """Today's cell's known record on every row: outcomes, ups, effective outcomes."""

    n: FloatArray
    wins: FloatArray
    n_eff: FloatArray

    @property
    def rate(self) -> FloatArray:
        """Share up (NaN where the cell has no known outcome)."""
        out: FloatArray = np.where(self.n > 0, self.wins / np.maximum(self.n, 1.0), np.nan)
        return out


def cell_record(cells: Cells, y: FloatArray, h: int) -> CellRecord:
    """The point-in-time record of each row's own cell (see the module docstring).

    A pair of same-cell outcomes ``d < h`` rows apart is counted on the row of its later
    member, so it is known exactly when that member's window has closed.
    """
    idx = cells.index
    known = ~np.isnan(y)
    n = known_group_sum(known.astype(np.float64), idx, h)
    wins = known_group_sum(np.where(known, y, 0.0), idx, h)
    if h <= 1:
        return CellRecord(n=n, wins=wins, n_eff=n.copy())
    pairs = np.zeros(idx.size)
    for d, rho in enumerate(overlap_rho(h), start=1):
        pairs[d:] += rho * ((idx[d:] == idx[:-d]) & known[d:] & known[:-d])
    pair_sum = known_group_sum(pairs, idx, h)
    n_eff = np.where(n > 0, n / (1.0 + 2.0 * pair_sum / np.maximum(n, 1.0)), 0.0)
    return CellRecord(n=n, wins=wins, n_eff=n_eff)


def cell_probability(
    record: CellRecord, base: FloatArray, fired: BoolArray, k: float
) -> FloatArray:
    """``P_raw``: the cell's up-rate shrunk toward the base rate with ``k`` pseudo-cases.

    Exactly the base rate where no rule fired or the cell has no known outcome.
    """
    rate = np.where(record.n > 0, record.wins / np.maximum(record.n, 1.0), base)
    shrunk = (record.n_eff * rate + k * base) / (record.n_eff + k)
    out: FloatArray = np.where(fired & (record.n > 0), shrunk, base)
    return out


def calibrate(
    p_raw: FloatArray, base: FloatArray, y: FloatArray, h: int, prior_sd: float
) -> tuple[FloatArray, FloatArray]:
    """``(P, kappa)``: the shrink calibration of the module docstring, on every row."""
    known = ~np.isnan(y)
    x = np.where(known, p_raw - base, 0.0)
    e = np.where(known, y - base, 0.0)
    tau = overlap_inflation(h) * _OUTCOME_VARIANCE / prior_sd**2
    kappa = np.clip(known_cumsum(x * e, h) / (known_cumsum(x * x, h) + tau), 0.0, 1.0)
    return base + kappa * (p_raw - base), kappa


def edge_se(base: FloatArray, n_eff: FloatArray, kappa: FloatArray, k: float) -> FloatArray:
    """The uncertainty of ``P - b``: ``kappa * sqrt(b (1 - b) / (n_eff + k))``, 0 if n_eff 0."""
    se = kappa * np.sqrt(base * (1.0 - base) / (n_eff + k))
    out: FloatArray = np.where(n_eff > 0, se, 0.0)
    return out


@dataclass(frozen=True)
class DecisionRules:
    """The thresholds of step 5 (from :class:`engine.state.EngineParams`)."""

    z_call: float
    min_history: float
    min_record: float
    min_record_high: float
    medium_level: float
    high_level: float


@dataclass(frozen=True)
class Decisions:
    """Per row: the call (+1 Bullish, -1 Bearish, 0 Neutral), the confidence (0 low,
    1 medium, 2 high), the index into :data:`REASONS`, the lean (+1 up, -1 down) and the
    bucket's record (past candidates, effective count, hit rate, its base)."""

    call: Int8Array
    confidence: Int8Array
    reason: Int8Array
    lean: Int8Array
    record_n: FloatArray
    record_n_eff: FloatArray
    record_hit_rate: FloatArray
    record_base: FloatArray


def decide(
    p: FloatArray,
    base: FloatArray,
    se: FloatArray,
    y: FloatArray,
    h: int,
    cells: Cells,
    base_n: FloatArray,
    fired: BoolArray,
    kappa: FloatArray,
    rules: DecisionRules,
    only: BoolArray | None = None,
) -> Decisions:
    """Calls and earned confidence from the out-of-sample record (module docstring, 5).

    With ``only`` (a row mask), the buckets' records are summed for the buckets of those
    rows alone: the masked rows are exact, the others hold placeholders.
    """
    edge = p - base
    lean = np.where(edge >= 0, 1, -1).astype(np.int8)
    candidate = np.abs(edge) > rules.z_call * se
    bucket = cells.index * 2 + (lean > 0)
    counted = (candidate & ~np.isnan(y)).astype(np.float64)
    outcome = np.nan_to_num(y)
    hit = np.where(lean > 0, outcome, 1.0 - outcome)
    lean_base = np.where(lean > 0, base, 1.0 - base)
    n = known_group_sum(counted, bucket, h, only)
    hits = known_group_sum(counted * hit, bucket, h, only)
    base_sum = known_group_sum(counted * lean_base, bucket, h, only)
    n_eff = n / overlap_inflation(h)
    rate = np.where(n > 0, hits / np.maximum(n, 1.0), np.nan)
    rec_base = np.where(n > 0, base_sum / np.maximum(n, 1.0), np.nan)
    low_medium, _ = wilson_bounds(np.nan_to_num(rate), n_eff, rules.medium_level)
    low_high, _ = wilson_bounds(np.nan_to_num(rate), n_eff, rules.high_level)
    history = base_n >= rules.min_history
    enough = n_eff >= rules.min_record
    at_base = n > 0
    at_base[at_base] = rate[at_base] >= rec_base[at_base]
    stands = candidate & history & enough & at_base
    medium = stands & (low_medium > np.nan_to_num(rec_base, nan=1.0))
    high = medium & (low_high > np.nan_to_num(rec_base, nan=1.0))
    high &= n_eff >= rules.min_record_high
    confidence = np.where(high, 2, np.where(medium, 1, 0)).astype(np.int8)
    reason = np.select(
        [confidence > 0, ~history, ~fired, kappa <= 0, ~candidate, ~enough, ~at_base],
        [0, 1, 2, 3, 4, 5, 6],
        7,
    ).astype(np.int8)
    return Decisions(
        call=np.where(stands, lean, 0).astype(np.int8),
        confidence=confidence,
        reason=reason,
        lean=lean,
        record_n=n,
        record_n_eff=n_eff,
        record_hit_rate=rate,
        record_base=rec_base,
    )
