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

from bot.terminal import console, print_audit, print_scorecard, print_walkforward

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["print_audit", "print_scorecard", "print_walkforward", "register"]

log = logging.getLogger(__name__)


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
    from bot.cli.parsing import add_command

    p = add_command(
        sub,
        "audit",
        help="measure every playbook rule against its claim",
        description="Each rule's win rate (Wilson interval), base rate, lift, mean and median "
        "return with block-bootstrap intervals, p and BH q at 1 and 5 days, next to the "
        "playbook's claim and a verdict; then the same split by regime.",
        examples=(
            "audit --demo",
            "audit --csv IWM.csv --vix VIX_History.csv --gex DIX.csv --plot audit.png",
        ),
    )
    add_data_options(p)
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--plot", metavar="FILE", help="also write a PNG chart to FILE")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=_cmd_audit)

    p = add_command(
        sub,
        "walkforward",
        help="replay the forecaster and score it vs baselines",
        description="The forecaster replayed day by day with an expanding window (no "
        "look-ahead), scored against the running base rate: Brier skill, reliability by "
        "confidence and decile, and the ranges' coverage.",
        examples=("walkforward --demo", "walkforward --csv IWM.csv --plot walkforward.png"),
    )
    add_data_options(p, as_of=False)
    p.add_argument("--warmup", type=int, default=250, help="warm-up trading days (>= 250)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.add_argument(
        "--plot", metavar="FILE", help="also write the reliability and coverage chart (PNG)"
    )
    p.set_defaults(func=_cmd_walkforward)

    p = add_command(
        sub,
        "scorecard",
        help="the live track record from the forecast ledger",
        description="Outcomes are filled in from the data given (default: the local "
        "store) before scoring; forecasts made on demo data are never recorded.",
        examples=("scorecard", "scorecard --json"),
    )
    add_data_options(p, as_of=False)
    p.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    p.add_argument(
        "--include-demo", action="store_true", help="also score forecasts made on demo data"
    )
    p.set_defaults(func=_cmd_scorecard)
