"""``audit``, ``walkforward`` and ``scorecard``: the evidence behind the playbook.

* ``audit`` measures every rule at 1 and 5 days (win rate with Wilson interval, base
  rate, lift, mean/median with block-bootstrap intervals, p and BH q, claim, verdict),
  then the same split by regime; ``--json`` prints the table as JSON, ``--plot FILE``
  writes a PNG chart.
* ``walkforward`` replays the forecaster over the history and scores it: a verdict per
  horizon against the running base rate (Brier difference with a block-bootstrap
  interval), the skills beside the baselines, reliability per confidence level and per
  decile, and the ranges' coverage beside a constant 1-year volatility band;
  ``--plot FILE`` draws the reliability diagram and the coverage.
* ``scorecard`` shows the live track record kept in the forecast ledger.

Handlers stay thin: the data options come from the forecast commands, the work from
:class:`bot.service.AnalystService`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.output import console, print_table
from bot.views import tables

if TYPE_CHECKING:
    from rich.console import Console

    from bot.settings import Settings
    from engine.audit import AuditTable
    from engine.walkforward import HorizonScore, WalkForward
    from sources.ledger import Scorecard

log = logging.getLogger(__name__)


def print_audit(table: AuditTable, out: Console) -> None:
    print_table(out, tables.audit_table(table))
    if table.regimes:
        print_table(out, tables.regime_table(table))


def print_scores(scores: tuple[HorizonScore, ...], title: str, out: Console) -> None:
    for line in tables.verdict_lines(scores):
        out.print(line, markup=False)
    print_table(out, tables.scores_table(scores, title))
    for line in tables.call_lines(scores):
        out.print(line, markup=False)
    if any(s.by_confidence for s in scores):
        print_table(out, tables.confidence_table(scores))
    print_table(out, tables.calibration_table(scores))
    if any(s.coverage for s in scores):
        print_table(out, tables.coverage_table(scores))
    for line in tables.reason_lines(scores):
        out.print(line, markup=False)


def print_walkforward(wf: WalkForward, out: Console) -> None:
    print_scores(
        wf.scores,
        f"Walk-forward {wf.first_date} .. {wf.last_date} (warm-up {wf.warmup} days, "
        "expanding window, no look-ahead)",
        out,
    )
    for note in wf.notes:
        out.print(f"[dim]note: {note}[/]")


def print_scorecard(card: Scorecard, out: Console) -> None:
    out.print(
        tables.scorecard_summary(card.recorded, card.filled, card.pending, card.synthetic_excluded)
    )
    if card.scores:
        print_scores(card.scores, "Live track record", out)
    else:
        out.print("No forecast has an outcome yet: run 'forecast' on days with new data.")


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring
    from bot.cli.forecast_cmds import data_request

    service = wiring.service(settings)
    table = service.audit(data_request(args), as_of=args.as_of, seed=args.seed)
    if args.json:
        print(table.model_dump_json(indent=2))
    else:
        print_audit(table, console())
    if args.plot:
        from bot.audit_plot import write_audit_plot

        path = write_audit_plot(table, Path(args.plot))
        if not args.json:
            print(f"chart written to {path}")
    return 0


def _cmd_walkforward(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring
    from bot.cli.forecast_cmds import data_request

    service = wiring.service(settings)
    wf = service.walkforward(data_request(args), warmup=args.warmup)
    if args.json:
        print(wf.model_dump_json(indent=2, exclude={"days"}))
    else:
        print_walkforward(wf, console())
    if args.plot:
        from bot.walkforward_plot import write_walkforward_plot

        path = write_walkforward_plot(wf, Path(args.plot))
        if not args.json:
            print(f"chart written to {path}")
    return 0


def _cmd_scorecard(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring
    from bot.cli.forecast_cmds import data_request

    card = wiring.service(settings).scorecard(
        data_request(args), include_synthetic=args.include_demo
    )
    if args.json:
        print(card.model_dump_json(indent=2))
    else:
        print_scorecard(card, console())
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
    p.add_argument(
        "--plot", metavar="FILE", help="also write the reliability and coverage chart (PNG)"
    )
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
