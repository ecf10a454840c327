"""Results as tables of formatted cells: audit, walk-forward, scorecard, signals, GEX.

A :class:`TextTable` holds strings only (every figure already written by
:mod:`bot.views.fmt`), so the terminal (rich), Discord (a monospace block) and the chat
show the same cells. Columns marked ``compact`` are the ones a narrow screen keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.views.fmt import (
    NA,
    count,
    level,
    num,
    p_value,
    pct,
    pct_interval,
    pp,
    signed_num,
    signed_pct,
    usd,
)
from engine.audit import AuditRow, AuditTable
from engine.gex import EXCHANGE_TZ, GexResult
from engine.state import Interval, MarketState
from engine.stats import MIN_EPISODES
from engine.walkforward import HorizonScore

Align = Literal["left", "right"]


@dataclass(frozen=True)
class Column:
    name: str
    align: Align = "right"
    compact: bool = True


@dataclass(frozen=True)
class TextTable:
    """A titled table of formatted cells, with notes printed under it."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()

    def keep(self, compact: bool) -> list[int]:
        """Indices of the columns shown (all, or only the compact ones)."""
        return [i for i, c in enumerate(self.columns) if c.compact or not compact]


def render_text(table: TextTable, *, compact: bool = False) -> str:
    """The table as aligned monospace text (title, header, rows, then notes)."""
    cols = table.keep(compact)
    cells = [[table.columns[i].name for i in cols]] + [[row[i] for i in cols] for row in table.rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(cols))]

    def line(values: Sequence[str]) -> str:
        out = []
        for k, v in enumerate(values):
            left = table.columns[cols[k]].align == "left"
            out.append(v.ljust(widths[k]) if left else v.rjust(widths[k]))
        return "  ".join(out).rstrip()

    body = [line(cells[0]), "  ".join("-" * w for w in widths)]
    body += [line(r) for r in cells[1:]]
    return "\n".join([table.title, *body, *table.notes])


# --- audit ------------------------------------------------------------------------------
def _return_ci(value: float | None, ci: Interval | None) -> str:
    text = signed_pct(value)
    if ci is not None:
        text += f" ({signed_pct(ci.low)}..{signed_pct(ci.high)})"
    return text


def claim_cell(row: AuditRow) -> str:
    s = row.stats
    parts = [
        pct(s.claim_win_rate) if s.claim_win_rate is not None else "",
        signed_pct(s.claim_mean_return) if s.claim_mean_return is not None else "",
    ]
    return " / ".join(p for p in parts if p) or NA


_AUDIT_COLUMNS = (
    Column("rule", "left"),
    Column("h"),
    Column("n", compact=False),
    Column("ep"),
    Column("win rate (95% CI)"),
    Column("base"),
    Column("lift", compact=False),
    Column("mean (95% CI)", compact=False),
    Column("median (95% CI)", compact=False),
    Column("p", compact=False),
    Column("q", compact=False),
    Column("claim"),
    Column("verdict", "left"),
)


def _audit_cells(row: AuditRow) -> tuple[str, ...]:
    s = row.stats
    win = pct(s.win_rate)
    if s.win_rate_ci is not None:
        win += f" ({pct_interval(s.win_rate_ci)})"
    return (
        row.rule,
        str(s.horizon),
        count(s.n_fired),
        NA if s.n_episodes is None else count(s.n_episodes),
        win,
        pct(s.base_win_rate),
        pp(s.lift),
        _return_ci(s.mean_return, s.mean_return_ci),
        _return_ci(s.median_return, s.median_return_ci),
        p_value(s.p_value),
        p_value(s.q_value),
        claim_cell(row),
        s.verdict or NA,
    )


def audit_table(table: AuditTable) -> TextTable:
    """Every rule at every horizon over all days, measurement beside the claim."""
    return TextTable(
        title=(
            f"Playbook audit, {table.first_date} .. {table.as_of} ({table.n_days} trading "
            f"days, {table.n_boot} bootstrap resamples, seed {table.seed})"
        ),
        columns=_AUDIT_COLUMNS,
        rows=tuple(_audit_cells(r) for r in table.rows),
        notes=(
            *(f"note: {n}" for n in table.notes),
            "win = forward return > 0 (bullish rules); n = fires with a closed window; "
            "ep = non-overlapping episodes; q = Benjamini-Hochberg over all rules and "
            f"horizons; verdicts need >= {MIN_EPISODES} episodes.",
        ),
    )


def regime_table(table: AuditTable) -> TextTable:
    """The same audit split by regime on the fire day, rules that fired in it only."""
    rows = [r for r in table.regimes if r.stats.n_fired > 0]
    return TextTable(
        title="The same, split by regime on the fire day (rules that fired in it)",
        columns=(Column("regime", "left"), *_AUDIT_COLUMNS),
        rows=tuple((r.regime, *_audit_cells(r)) for r in rows),
    )


# --- walk-forward and scorecard ---------------------------------------------------------
#: Points a range's coverage may stray from its nominal level and still count as on target.
COVERAGE_TOLERANCE = 0.02

_VERDICT_WORDS = {
    "beats": "beats the base rate",
    "ties": "does not beat the base rate (no worse either: the interval includes 0)",
    "worse": "is worse than the base rate",
}


def _ci_pct(ci: Interval | None) -> str:
    return NA if ci is None else f"{pct(ci.low, 1)}..{pct(ci.high, 1)}"


def verdict_lines(scores: Sequence[HorizonScore]) -> tuple[str, ...]:
    """One line per horizon: does the forecast beat the running base rate on Brier?"""
    out = []
    for s in scores:
        v = s.verdict
        if v is None:
            continue
        ci = v.diff_ci
        interval = NA if ci is None else f"{signed_num(ci.low, 6)}, {signed_num(ci.high, 6)}"
        out.append(
            f"{s.horizon}-day: the forecast {_VERDICT_WORDS[v.outcome]}: Brier "
            f"{num(v.brier, 5)} vs {num(v.base_brier, 5)}, difference "
            f"{signed_num(v.diff, 6)} [95% block bootstrap {interval}]; log-loss "
            f"{num(v.log_loss, 5)} vs {num(v.base_log_loss, 5)}; n {count(v.n)}"
        )
    return tuple(out)


def scores_table(scores: Sequence[HorizonScore], title: str) -> TextTable:
    """Hit rate, Brier and log-loss of the forecaster beside its baselines."""
    rows = []
    for s in scores:
        for i, sk in enumerate((s.model, *s.baselines)):
            rows.append(
                (
                    str(s.horizon) if i == 0 else "",
                    count(s.n) if i == 0 else "",
                    sk.name,
                    pct(sk.hit_rate, 1),
                    num(sk.brier, 5),
                    num(sk.log_loss, 5),
                )
            )
    columns = (
        Column("h"),
        Column("n"),
        Column("forecaster", "left"),
        Column("hit rate"),
        Column("Brier"),
        Column("log-loss", compact=False),
    )
    return TextTable(
        title=title,
        columns=columns,
        rows=tuple(rows),
        notes=("'always up' is scored on its hit rate only: a probability of 1 is no forecast.",),
    )


def call_lines(scores: Sequence[HorizonScore]) -> tuple[str, ...]:
    """How often the directional calls were right, per horizon."""
    return tuple(
        f"{s.horizon}-day: {count(s.n_calls)} directional calls of {count(s.n)} days, "
        f"right {pct(s.call_hit_rate, 1)} of the time"
        for s in scores
    )


def confidence_table(scores: Sequence[HorizonScore]) -> TextTable:
    """Reliability per confidence level: did each level earn its word out of sample?"""
    rows = []
    for s in scores:
        for r in s.by_confidence:
            ok = r.hit_rate is not None and r.hit_base is not None and r.hit_rate >= r.hit_base
            rows.append(
                (
                    str(s.horizon),
                    r.group,
                    count(r.n),
                    count(r.n_calls),
                    pct(r.predicted, 1),
                    f"{pct(r.realised, 1)} ({_ci_pct(r.realised_ci)})",
                    pct(r.base, 1),
                    f"{pct(r.hit_rate, 1)} ({_ci_pct(r.hit_ci)})",
                    pct(r.hit_base, 1),
                    "yes" if ok else "NO",
                )
            )
    columns = (
        Column("h"),
        Column("confidence", "left"),
        Column("days"),
        Column("calls"),
        Column("predicted"),
        Column("realised (95% CI)", compact=False),
        Column("base", compact=False),
        Column("lean right (95% CI)"),
        Column("lean base"),
        Column("at/above base"),
    )
    return TextTable(
        title="Reliability by confidence level (out of sample)",
        columns=columns,
        rows=tuple(rows),
        notes=(
            "lean = the call, or the side of the base rate P(up) leans to on Neutral days; "
            "intervals are Wilson 95% on n / overlap inflation.",
        ),
    )


def calibration_table(scores: Sequence[HorizonScore]) -> TextTable:
    """Reliability by decile of predicted P(up): predicted against realised."""
    rows = tuple(
        (
            str(s.horizon),
            b.group,
            f"{pct(b.p_low, 1)}-{pct(b.p_high, 1)}",
            count(b.n),
            pct(b.predicted, 1),
            pct(b.realised, 1),
            _ci_pct(b.realised_ci),
            pct(b.base, 1),
        )
        for s in scores
        for b in s.deciles
    )
    columns = (
        Column("h"),
        Column("decile"),
        Column("P(up) range", compact=False),
        Column("n"),
        Column("predicted"),
        Column("realised"),
        Column("95% CI", compact=False),
        Column("base", compact=False),
    )
    return TextTable(
        title="Calibration: predicted P(up) by decile vs how often it went up",
        columns=columns,
        rows=rows,
        notes=(
            "When P(up) stays near the base rate, the deciles mostly sort days by era "
            "(the running base rate), not by signal.",
        ),
    )


def coverage_table(scores: Sequence[HorizonScore]) -> TextTable:
    """Range coverage and width beside the constant 1-year realised-volatility band."""
    rows = []
    for s in scores:
        for c in s.coverage:
            on = c.coverage is not None and abs(c.coverage - c.level) <= COVERAGE_TOLERANCE
            rows.append(
                (
                    str(s.horizon),
                    pct(c.level),
                    count(c.n),
                    pct(c.coverage, 1),
                    "yes" if on else "NO",
                    pct(c.mean_width, 2),
                    pct(c.ref_coverage, 1),
                    pct(c.ref_width, 2),
                    num(c.width_ratio, 3),
                )
            )
    columns = (
        Column("h"),
        Column("range"),
        Column("n", compact=False),
        Column("coverage"),
        Column(f"within {num(COVERAGE_TOLERANCE * 100, 0)} pt"),
        Column("mean width"),
        Column("1y band cov.", compact=False),
        Column("1y band width"),
        Column("width ratio"),
    )
    return TextTable(
        title="Ranges: how often the realised move fell inside (log returns)",
        columns=columns,
        rows=tuple(rows),
        notes=(
            "1y band = constant band from the trailing 252-day realised volatility with the "
            "same empirical quantiles; width ratio < 1 means the forecast ranges are narrower.",
        ),
    )


def reason_lines(scores: Sequence[HorizonScore]) -> tuple[str, ...]:
    """Why confidence was low, and which volatility model ran, in days per horizon."""
    out = []
    for s in scores:
        if s.reasons:
            why = "; ".join(f"{c.name.replace('_', ' ')} {count(c.n)}" for c in s.reasons)
            out.append(f"{s.horizon}-day low-confidence days by reason: {why}")
        if s.vol_models:
            models = "; ".join(f"{c.name} {count(c.n)}" for c in s.vol_models)
            out.append(f"{s.horizon}-day volatility model by days: {models}")
    return tuple(out)


def scorecard_summary(recorded: int, filled: int, pending: int, synthetic_excluded: int) -> str:
    """One line on what the forecast ledger holds."""
    text = (
        f"Forecast ledger: {count(recorded)} forecasts recorded, {count(filled)} with an "
        f"outcome, {count(pending)} waiting for data"
    )
    if synthetic_excluded:
        text += f" ({count(synthetic_excluded)} made on synthetic demo data left out)"
    return text


# --- signals ----------------------------------------------------------------------------
def signals_text(state: MarketState) -> str:
    """Every rule with fired/not and the deciding value of each condition."""
    origin = "SYNTHETIC DEMO DATA" if state.synthetic else "data as given"
    lines = [f"{state.ticker} signals on {state.as_of} ({origin})", ""]
    marks = {True: "ok", False: "--", None: "??"}
    for rule in sorted(state.rules, key=lambda r: (r.tier, r.name)):
        status = "FIRES" if rule.fired else ("no data" if not rule.available else "no")
        lines.append(f"[Tier {rule.tier}] {rule.name:<26} {status:<8} {rule.signal}")
        for c in rule.conditions:
            literal = c.right_value is not None and c.right == f"{c.right_value:g}"
            right = c.right if literal else f"{c.right} ({num(c.right_value)})"
            lines.append(f"      {marks[c.passed]}  {c.left} ({num(c.left_value)}) {c.op} {right}")
        if rule.last_fired and not rule.fired:
            lines.append(f"      last fired {rule.last_fired}")
    lines.append("")
    lines.append("ok = condition holds, -- = does not, ?? = input missing")
    return "\n".join(lines)


# --- GEX --------------------------------------------------------------------------------
def gex_text(result: GexResult, symbol: str, source: str, *, top: int = 8) -> str:
    """A chain snapshot's gamma figures: net GEX, flip, walls and the largest expiries."""
    per = "per 1% move"
    local = result.as_of.astimezone(EXCHANGE_TZ) if result.as_of.tzinfo else result.as_of
    lines = [
        f"{symbol} dealer gamma exposure, chain as of {local:%Y-%m-%d %H:%M %Z} "
        f"({source}); spot {num(result.spot)}",
        f"  net GEX              {usd(result.net_gex)} {per} "
        f"(calls {usd(result.call_gex)}, puts {usd(result.put_gex)})",
        f"  without same-day     {usd(result.net_gex_ex_same_day)} {per}",
    ]
    if result.flip_level is not None:
        dist = result.flip_level / result.spot - 1
        lines.append(
            f"  zero-gamma flip      {num(result.flip_level)} ({signed_pct(dist, 1)} from spot)"
        )
    else:
        lines.append("  zero-gamma flip      none within +-20% of spot")
    lines.append(f"  call wall            {level(result.call_wall)}")
    lines.append(f"  put wall             {level(result.put_wall)}")
    if result.share_of_adv is not None:
        lines.append(
            f"  share of daily $vol  {signed_pct(result.share_of_adv, 1)} (20-day average)"
        )
    lines.append(
        f"  contracts            {count(result.contracts)} ({count(result.gamma_computed)} "
        "gamma from iv)"
    )
    by = result.by_expiry.reindex(
        result.by_expiry["net_gex"].abs().sort_values(ascending=False).index
    ).head(top)
    lines.append(f"  largest expiries by |net GEX| (top {len(by)}):")
    for ts, row in by.sort_index().iterrows():
        lines.append(
            f"    {ts:%Y-%m-%d}  net {usd(row['net_gex']):>10}  calls {usd(row['call_gex']):>10}  "
            f"puts {usd(row['put_gex']):>10}  ({int(row['contracts'])} contracts)"
        )
    lines.extend(f"  note: {n}" for n in result.notes)
    return "\n".join(lines)
