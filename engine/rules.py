"""The playbook as data: loading rule specs from TOML and evaluating them on a frame.

Rules are declarative (see the header of ``engine/data/playbook.toml``): every condition
compares an indicator column with a number, another column or an engine parameter, or
asks for a crossing. A rule fires when all its conditions hold. Nothing from the file is
ever evaluated as code; unknown columns, operators or parameters raise
:class:`engine.errors.RuleSpecError` naming the rule and the field.

Missing data never fires a rule: a comparison with a NaN operand is False. A rule whose
input series is missing entirely on the day is reported as *unavailable*.
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.errors import RuleSpecError
from engine.frame import AUX_SERIES, COLUMNS, previous_in_series, series_id_column
from engine.indicators import AUX_DERIVED, INDICATOR_COLUMNS
from engine.state import ConditionCheck, Direction, EngineParams, RuleClaim

#: The bundled playbook, read as package data (works from a wheel as from a checkout).
DEFAULT_PLAYBOOK: Final[Traversable] = files("engine").joinpath("data", "playbook.toml")

#: Columns a condition may refer to.
KNOWN_COLUMNS: Final = frozenset(COLUMNS) | frozenset(c for c in INDICATOR_COLUMNS if c != "trend")

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Operator:
    """One comparison of the vocabulary, the same code for a whole column and one day.

    ``holds(left, right, prev_left, prev_right)`` works elementwise on arrays; the
    previous-day operands are only read when ``uses_previous``. A NaN operand makes
    the result False (the mask) or unknown (the explanation).
    """

    text: str
    holds: Callable[[FloatArray, FloatArray, FloatArray, FloatArray], BoolArray]
    uses_previous: bool = False


OPERATORS_TABLE: Final[Mapping[str, Operator]] = {
    "<": Operator("<", lambda a, b, pa, pb: np.less(a, b)),
    "<=": Operator("<=", lambda a, b, pa, pb: np.less_equal(a, b)),
    ">": Operator(">", lambda a, b, pa, pb: np.greater(a, b)),
    ">=": Operator(">=", lambda a, b, pa, pb: np.greater_equal(a, b)),
    "crosses_above": Operator(
        "crosses above", lambda a, b, pa, pb: np.less(pa, pb) & np.greater_equal(a, b), True
    ),
    "crosses_below": Operator(
        "crosses below", lambda a, b, pa, pb: np.greater_equal(pa, pb) & np.less(a, b), True
    ),
}
#: ``between`` takes ``right = [low, high]`` (inclusive) and is read as two conditions,
#: ``left >= low`` and ``left <= high``, so each bound reports its own deciding values.
BETWEEN: Final = "between"
OPERATORS: Final = (*OPERATORS_TABLE, BETWEEN)


def series_of(column: str) -> str | None:
    """The auxiliary input series a column needs (vix, gex, dark_pool), or None."""
    if column in AUX_SERIES:
        return column
    return AUX_DERIVED.get(column)


@dataclass(frozen=True)
class Condition:
    """``left op right``; ``right`` is a float, a column name or ``param:NAME``."""

    left: str
    op: str
    right: float | str

    @property
    def right_label(self) -> str:
        if isinstance(self.right, str):
            return self.right.removeprefix("param:")
        return f"{self.right:g}"

    @property
    def text(self) -> str:
        return f"{self.left} {OPERATORS_TABLE[self.op].text} {self.right_label}"

    @property
    def columns(self) -> tuple[str, ...]:
        """The frame columns this condition reads."""
        if isinstance(self.right, str) and not self.right.startswith("param:"):
            return (self.left, self.right)
        return (self.left,)


@dataclass(frozen=True)
class RuleSpec:
    name: str
    tier: int
    direction: Direction
    signal: str
    nickname: str | None
    flavour: str
    rationale: str
    claims: tuple[RuleClaim, ...]
    when: tuple[Condition, ...]

    @property
    def series(self) -> frozenset[str]:
        """Auxiliary input series (vix, gex, dark_pool) this rule depends on."""
        cols = (c for cond in self.when for c in cond.columns)
        return frozenset(s for s in map(series_of, cols) if s is not None)

    @property
    def claim(self) -> RuleClaim | None:
        """The first (headline) claim, if any."""
        return self.claims[0] if self.claims else None

    def claim_at(self, horizon: int) -> RuleClaim | None:
        """The playbook's claim for ``horizon`` trading days, if it makes one."""
        return next((c for c in self.claims if c.horizon == horizon), None)


@dataclass(frozen=True)
class Playbook:
    rules: tuple[RuleSpec, ...]
    version: str
    source: str

    def get(self, name: str) -> RuleSpec | None:
        key = name.strip().lower()
        return next((r for r in self.rules if r.name.lower() == key), None)

    @property
    def warmup_columns(self) -> tuple[str, ...]:
        """Price-derived columns the rules read: a state needs all of them on its day.

        Auxiliary series (VIX, GEX, dark pool) are optional, so columns built from them
        do not count; a rule that needs one is reported unavailable instead.
        """
        cols = (c for r in self.rules for cond in r.when for c in cond.columns)
        return tuple(dict.fromkeys(c for c in cols if series_of(c) is None))


def load_playbook(path: Path | None = None) -> Playbook:
    """Parse a playbook TOML file (default: the bundled one) into :class:`Playbook`."""
    target: Path | Traversable = Path(path) if path is not None else DEFAULT_PLAYBOOK
    try:
        raw_bytes = target.read_bytes()
    except OSError as exc:
        raise RuleSpecError(f"cannot read the playbook file {target}: {exc.strerror}") from exc
    return _parse_playbook(raw_bytes, str(target))


@functools.lru_cache(maxsize=8)
def _parse_playbook(raw_bytes: bytes, target: str) -> Playbook:
    """The playbook in ``raw_bytes`` (read from ``target``), parsed once per content.

    Playbooks are frozen, so every caller can share one; a prepare per request then
    reads the file but no longer parses its TOML and conditions again.
    """
    try:
        doc = tomllib.loads(raw_bytes.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RuleSpecError(f"the playbook file {target} is not valid TOML: {exc}") from exc
    entries = doc.get("rules")
    if not isinstance(entries, list) or not entries:
        raise RuleSpecError(f"the playbook file {target} has no [[rules]] entries")
    rules = tuple(_parse_rule(e, i) for i, e in enumerate(entries, start=1))
    names = [r.name.lower() for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuleSpecError(f"the playbook names a rule twice: {', '.join(dupes)}")
    version = hashlib.sha256(raw_bytes).hexdigest()[:12]
    return Playbook(rules=rules, version=version, source=target)


def _parse_rule(entry: object, index: int) -> RuleSpec:
    if not isinstance(entry, dict):
        raise RuleSpecError(f"rule #{index} is not a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RuleSpecError(f"rule #{index} has no name")
    where = f"rule {name!r}"
    tier = entry.get("tier")
    if tier not in (1, 2, 3):
        raise RuleSpecError(f"{where}: tier must be 1, 2 or 3, not {tier!r}")
    direction = entry.get("direction")
    if direction not in ("bullish", "bearish"):
        raise RuleSpecError(f"{where}: direction must be 'bullish' or 'bearish'")
    when = entry.get("when")
    if not isinstance(when, list) or not when:
        raise RuleSpecError(f"{where}: 'when' must list at least one condition")
    conditions = tuple(cond for c in when for cond in _parse_condition(c, where))
    claims = tuple(_parse_claim(c, where) for c in entry.get("claims", []))
    text = {k: entry.get(k) for k in ("signal", "rationale", "flavour", "nickname")}
    for key in ("signal", "rationale"):
        if not isinstance(text[key], str) or not str(text[key]).strip():
            raise RuleSpecError(f"{where}: '{key}' must be a non-empty string")
    return RuleSpec(
        name=name.strip(),
        tier=int(tier),
        direction="bullish" if direction == "bullish" else "bearish",
        signal=str(text["signal"]),
        nickname=str(text["nickname"]) if text["nickname"] else None,
        flavour=str(text["flavour"] or ("Bullish" if direction == "bullish" else "Bearish")),
        rationale=" ".join(str(text["rationale"]).split()),
        claims=claims,
        when=conditions,
    )


def _parse_condition(raw: object, where: str) -> tuple[Condition, ...]:
    """One condition table as one Condition, or two for ``between``."""
    if not isinstance(raw, dict) or not {"left", "op", "right"} <= raw.keys():
        raise RuleSpecError(f"{where}: each condition needs left, op and right")
    left, op, right = raw["left"], raw["op"], raw["right"]
    if left not in KNOWN_COLUMNS:
        raise RuleSpecError(
            f"{where}: unknown column {left!r} in 'left'; known: {', '.join(sorted(KNOWN_COLUMNS))}"
        )
    if op not in OPERATORS:
        raise RuleSpecError(f"{where}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    if op == BETWEEN:
        if not isinstance(right, list) or len(right) != 2:
            raise RuleSpecError(f"{where}: 'between' needs right = [low, high]")
        low, high = (_operand(r, where) for r in right)
        if isinstance(low, float) and isinstance(high, float) and low > high:
            raise RuleSpecError(f"{where}: 'between' bounds are reversed: [{low:g}, {high:g}]")
        return Condition(left=left, op=">=", right=low), Condition(left=left, op="<=", right=high)
    return (Condition(left=left, op=op, right=_operand(right, where)),)


def _operand(right: object, where: str) -> float | str:
    """A condition's right-hand side: a number, a known column or ``param:NAME``."""
    if isinstance(right, bool) or not isinstance(right, (int, float, str)):
        raise RuleSpecError(f"{where}: 'right' must be a number, a column or param:NAME")
    if not isinstance(right, str):
        return float(right)
    if right.startswith("param:"):
        if right.removeprefix("param:") not in EngineParams.model_fields:
            raise RuleSpecError(
                f"{where}: unknown parameter {right!r}; known: "
                + ", ".join(f"param:{p}" for p in EngineParams.model_fields)
            )
    elif right not in KNOWN_COLUMNS:
        raise RuleSpecError(f"{where}: unknown column {right!r} in 'right'")
    return right


def _parse_claim(raw: object, where: str) -> RuleClaim:
    if not isinstance(raw, dict) or raw.get("horizon") not in (1, 5):
        raise RuleSpecError(f"{where}: each claim needs horizon = 1 or 5")
    try:
        return RuleClaim(**raw)
    except ValueError as exc:
        raise RuleSpecError(f"{where}: bad claim {raw!r}: {exc}") from exc


def _operands(
    cond: Condition, ind: pd.DataFrame, params: EngineParams
) -> tuple[FloatArray, FloatArray]:
    """The left and right operands of ``cond`` as float arrays over the frame's rows."""
    left = ind[cond.left].to_numpy(dtype=np.float64)
    if isinstance(cond.right, str) and cond.right.startswith("param:"):
        value = float(getattr(params, cond.right.removeprefix("param:")))
        right = np.full(left.shape, value)
    elif isinstance(cond.right, str):
        right = ind[cond.right].to_numpy(dtype=np.float64)
    else:
        right = np.full(left.shape, cond.right)
    return left, right


def _previous(
    cond: Condition, ind: pd.DataFrame, right: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The operands on the row before, NaN on the first row and across a series break
    (:func:`engine.frame.previous_in_series`): a crossing never spans two series."""
    prev_left = previous_in_series(ind, cond.left, series_of(cond.left))
    if isinstance(cond.right, str) and not cond.right.startswith("param:"):
        prev_right = previous_in_series(ind, cond.right, series_of(cond.right))
    else:
        prev_right = right
    return prev_left, prev_right


def condition_mask(cond: Condition, ind: pd.DataFrame, params: EngineParams) -> pd.Series:
    """Boolean series: where ``cond`` holds (NaN operands give False)."""
    left, right = _operands(cond, ind, params)
    op = OPERATORS_TABLE[cond.op]
    prev_left, prev_right = _previous(cond, ind, right) if op.uses_previous else (left, right)
    with np.errstate(invalid="ignore"):
        result = op.holds(left, right, prev_left, prev_right)
    return pd.Series(np.asarray(result, dtype=bool), index=ind.index)


def evaluate_rules(playbook: Playbook, ind: pd.DataFrame, params: EngineParams) -> pd.DataFrame:
    """One boolean column per rule: True on the days the rule fires."""
    columns = {}
    for rule in playbook.rules:
        mask = np.ones(len(ind), dtype=bool)
        for cond in rule.when:
            mask &= condition_mask(cond, ind, params).to_numpy()
        columns[rule.name] = mask
    return pd.DataFrame(columns, index=ind.index)


def _finite(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


ColumnReader = Callable[[str], FloatArray]
"""A frame column by name as a float64 array (e.g. :meth:`engine.prepared.Prepared.column`)."""


def _frame_reader(ind: pd.DataFrame) -> ColumnReader:
    return lambda name: ind[name].to_numpy(dtype=np.float64)


def _value_at(column: ColumnReader, name: str, pos: int) -> float:
    return float(column(name)[pos])


def _previous_at(ind: pd.DataFrame, column: ColumnReader, name: str, pos: int) -> float:
    """``name`` on row ``pos - 1``, NaN on the first row and across a series break: the
    row ``pos`` of :func:`engine.frame.previous_in_series`, without the whole column."""
    if pos < 1:
        return float("nan")
    series = series_of(name)
    id_col = series_id_column(series) if series is not None else None
    if id_col is not None and id_col in ind.columns:
        ids = column(id_col)
        if ids[pos] != ids[pos - 1]:  # NaN ids differ too
            return float("nan")
    return float(column(name)[pos - 1])


def explain(
    rule: RuleSpec,
    ind: pd.DataFrame,
    pos: int,
    params: EngineParams,
    column: ColumnReader | None = None,
) -> tuple[ConditionCheck, ...]:
    """The deciding values of each of ``rule``'s conditions on row ``pos``.

    ``passed`` comes from the same operator as :func:`condition_mask`, evaluated on the
    row (and the row before, for crossings); it is None when an operand is missing.
    ``column`` reads a column of ``ind`` as float64 (default: through pandas each time;
    :class:`engine.prepared.Prepared` keeps the arrays). Only row ``pos`` (and the row
    before) is read.
    """
    read = column if column is not None else _frame_reader(ind)
    checks = []
    for cond in rule.when:
        left = _value_at(read, cond.left, pos)
        right_column = isinstance(cond.right, str) and not cond.right.startswith("param:")
        if isinstance(cond.right, str) and not right_column:
            right = float(getattr(params, cond.right.removeprefix("param:")))
        elif isinstance(cond.right, str):
            right = _value_at(read, cond.right, pos)
        else:
            right = float(cond.right)
        op = OPERATORS_TABLE[cond.op]
        prev_left, prev_right = left, right
        needed = [left, right]
        if op.uses_previous:
            prev_left = _previous_at(ind, read, cond.left, pos)
            if right_column:
                prev_right = _previous_at(ind, read, str(cond.right), pos)
            needed += [prev_left, prev_right]
        passed: bool | None = None
        if not np.isnan(needed).any():
            passed = bool(
                op.holds(
                    np.array([left]),
                    np.array([right]),
                    np.array([prev_left]),
                    np.array([prev_right]),
                )[0]
            )
        checks.append(
            ConditionCheck(
                text=cond.text,
                left=cond.left,
                left_value=_finite(left),
                op=cond.op,
                right=cond.right_label,
                right_value=_finite(right),
                passed=passed,
            )
        )
    return tuple(checks)


def is_available(
    rule: RuleSpec, ind: pd.DataFrame, pos: int, column: ColumnReader | None = None
) -> bool:
    """False when an auxiliary series the rule needs has no value on row ``pos``."""
    read = column if column is not None else _frame_reader(ind)
    return all(not np.isnan(read(s)[pos]) for s in rule.series)
