"""``audit``, ``walkforward`` and ``scorecard``: the evidence behind the playbook.

* ``audit`` measures every rule at 1 and 5 days (win rate with Wilson interval, base
  rate, lift, mean/median with block-bootstrap intervals, p and BH q, claim, verdict),
  then the same split by regime; ``--json`` prints the table as JSON, ``--plot FILE``
  writes a PNG chart.
* ``walkforward`` replays the forecaster over the history and scores it beside the
  base-rate and always-up baselines, with a calibration table.
* ``scorecard`` shows the live track record kept in the forecast ledger.

Handlers stay thin: the data options come from the forecast commands, the work from
:class:`bot.service.AnalystService`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from bot.settings import Settings
    from engine.audit import AuditRow, AuditTable
    from engine.state import Interval
    from engine.walkforward import HorizonScore, WalkForward
    from sources.ledger import Scorecard

log = logging.getLogger(__name__)


def _pct(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x * 100:.{digits}f}%"


def _ret(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.2f}%"


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "-" if x is None else format(x, fmt)


def _p(x: float | None) -> str:
    if x is None:
        return "-"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def _ci(ci: Interval | None) -> str:
    return "" if ci is None else f" ({_ret(ci.low)}..{_ret(ci.high)})"


_VERDICT_STYLE = {
    "supported": "green",
    "contradicted": "red",
    "too few cases": "yellow",
    "not distinguishable from base rate": "white",
    "no claim": "dim",
}


def audit_rich_table(rows: tuple[AuditRow, ...], title: str, with_regime: bool = False) -> Table:
    """A rich Table of audit rows (one line per rule, horizon and regime)."""
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    if with_regime:
        t.add_column("regime")
    for name, justify in [
        ("rule", "left"),
        ("h", "right"),
        ("n", "right"),
        ("ep", "right"),
        ("win rate (95% CI)", "right"),
        ("base", "right"),
        ("lift", "right"),
        ("mean (95% CI)", "right"),
        ("median (95% CI)", "right"),
        ("p", "right"),
        ("q", "right"),
        ("claim", "right"),
        ("verdict", "left"),
    ]:
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        s = r.stats
        ci = s.win_rate_ci
        wr = _pct(s.win_rate) + ("" if ci is None else f" ({_pct(ci.low)}-{_pct(ci.high)})")
        mci, dci = s.mean_return_ci, s.median_return_ci
        mean = _ret(s.mean_return) + _ci(mci)
        med = _ret(s.median_return) + _ci(dci)
        claim = " / ".join(
            x
            for x in (
                _pct(s.claim_win_rate) if s.claim_win_rate is not None else "",
                _ret(s.claim_mean_return) if s.claim_mean_return is not None else "",
            )
            if x
        )
        lift = "-" if s.lift is None else f"{s.lift * 100:+.1f}pp"
        cells = [
            r.rule,
            str(s.horizon),
            str(s.n_fired),
            str(s.n_episodes if s.n_episodes is not None else "-"),
            wr,
            _pct(s.base_win_rate),
            lift,
            mean,
            med,
            _p(s.p_value),
            _p(s.q_value),
            claim or "-",
            f"[{_VERDICT_STYLE.get(s.verdict or '', 'white')}]{s.verdict or '-'}[/]",
        ]
        t.add_row(*([r.regime] if with_regime else []), *cells)
    return t


def print_audit(table: AuditTable, console: Console) -> None:
    console.print(
        audit_rich_table(
            table.rows,
            f"Playbook audit, {table.first_date} .. {table.as_of} "
            f"({table.n_days} trading days, {table.n_boot} bootstrap resamples, seed {table.seed})",
        )
    )
    for note in table.notes:
        console.print(f"[dim]note: {note}[/]")
    console.print(
        "[dim]win = forward return > 0 (bullish rules); n = fires with a closed window; "
        "ep = non-overlapping episodes; q = Benjamini-Hochberg over all rules and "
        "horizons; verdicts need >= 30 episodes.[/]"
    )
    if table.regimes:
        console.print(
            audit_rich_table(
                tuple(r for r in table.regimes if r.stats.n_fired > 0),
                "The same, split by regime on the fire day (rules that fired in it)",
                with_regime=True,
            )
        )


def score_rich_table(scores: tuple[HorizonScore, ...], title: str) -> Table:
    from rich.table import Table

    t = Table(title=title, header_style="bold")
    for c in ("h", "n", "forecaster", "hit rate", "Brier", "log-loss"):
        t.add_column(c, justify="right" if c not in ("forecaster",) else "left")
    for s in scores:
        for i, sk in enumerate((s.model, *s.baselines)):
            t.add_row(
                str(s.horizon) if i == 0 else "",
                str(s.n) if i == 0 else "",
                sk.name,
                _pct(sk.hit_rate, 1),
                _num(sk.brier, ".4f"),
                _num(sk.log_loss, ".4f"),
            )
    return t


def calibration_rich_table(scores: tuple[HorizonScore, ...]) -> Table:
    from rich.table import Table

    t = Table(title="Calibration: predicted P(up) bucket vs how often it went up",
              header_style="bold")  # fmt: skip
    for c in ("h", "bucket", "n", "mean predicted", "realized"):
        t.add_column(c, justify="right")
    for s in scores:
        for b in s.calibration:
            t.add_row(
                str(s.horizon),
                f"{b.low:.2f}-{b.high:.2f}",
                str(b.n),
                _pct(b.mean_prob, 1),
                _pct(b.realized, 1),
            )
    return t


def print_scores(scores: tuple[HorizonScore, ...], title: str, console: Console) -> None:
    console.print(score_rich_table(scores, title))
    for s in scores:
        console.print(
            f"{s.horizon}-day: {s.n_calls} directional calls of {s.n} days, "
            f"right {_pct(s.call_hit_rate, 1)} of the time"
        )
    console.print(calibration_rich_table(scores))


def print_walkforward(wf: WalkForward, console: Console) -> None:
    print_scores(
        wf.scores,
        f"Walk-forward {wf.first_date} .. {wf.last_date} (warm-up {wf.warmup} days, "
        "expanding window, no look-ahead)",
        console,
    )
    for note in wf.notes:
        console.print(f"[dim]note: {note}[/]")


def print_scorecard(card: Scorecard, console: Console) -> None:
    console.print(
        f"Forecast ledger: {card.recorded} forecasts recorded, {card.filled} with an outcome, "
        f"{card.pending} waiting for data"
        + (
            f" ({card.synthetic_excluded} made on synthetic demo data left out)"
            if card.synthetic_excluded
            else ""
        )
    )
    if card.scores:
        print_scores(card.scores, "Live track record", console)
    else:
        console.print("No forecast has an outcome yet: run 'forecast' on days with new data.")


def _console() -> Console:
    from rich.console import Console

    return Console(width=200)


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.forecast_cmds import data_request, make_service

    service = make_service(settings)
    table = service.audit(data_request(args), as_of=args.as_of, seed=args.seed)
    if args.json:
        print(table.model_dump_json(indent=2))
    else:
        print_audit(table, _console())
    if args.plot:
        from bot.audit_plot import write_audit_plot

        path = write_audit_plot(table, Path(args.plot))
        if not args.json:
            print(f"chart written to {path}")
    return 0


def _cmd_walkforward(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.forecast_cmds import data_request, make_service

    service = make_service(settings)
    wf = service.walkforward(data_request(args), warmup=args.warmup)
    if args.json:
        print(wf.model_dump_json(indent=2, exclude={"days"}))
    else:
        print_walkforward(wf, _console())
    return 0


def _cmd_scorecard(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.forecast_cmds import data_request, make_service

    card = make_service(settings).scorecard(data_request(args), include_synthetic=args.include_demo)
    if args.json:
        print(card.model_dump_json(indent=2))
    else:
        print_scorecard(card, _console())
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.cli.forecast_cmds import add_data_options

    p = sub.add_parser("audit", help="measure every playbook rule against its claim")
    add_data_options(p)
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--plot", metavar="FILE", help="also write a PNG chart to FILE")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("walkforward", help="replay the forecaster and score it vs baselines")
    add_data_options(p, as_of=False)
    p.add_argument("--warmup", type=int, default=250, help="warm-up trading days (>= 250)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=_cmd_walkforward)

    p = sub.add_parser(
        "scorecard",
        help="the live track record from the forecast ledger",
        description="Outcomes are filled in from the data given (default: the local "
        "store) before scoring; forecasts made on demo data are never recorded.",
    )
    add_data_options(p, as_of=False)
    p.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    p.add_argument(
        "--include-demo", action="store_true", help="also score forecasts made on demo data"
    )
    p.set_defaults(func=_cmd_scorecard)
