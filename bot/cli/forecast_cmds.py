"""``forecast``, ``signals`` and ``schema``, plus the data options other commands reuse."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.parsing import add_command
from engine.errors import UserInputError

#: The units --gex-unit accepts (sources.validate.GEX_UNITS; listed here so that
#: building the parser imports nothing heavy).
GEX_UNIT_CHOICES = ("usd", "thousands", "millions", "billions")

if TYPE_CHECKING:
    from bot.service import DataRequest
    from bot.settings import Settings


def add_data_options(p: argparse.ArgumentParser, *, as_of: bool = True) -> None:
    """--csv/--vix/--gex/--dark-pool/--demo (and --as-of), shared by every data command."""
    g = p.add_argument_group("data (default: the local store, see 'update' and 'import')")
    g.add_argument(
        "--csv", type=Path, metavar="FILE", help="daily prices CSV (required with files)"
    )
    g.add_argument("--vix", type=Path, metavar="FILE", help="VIX CSV (e.g. CBOE VIX_History.csv)")
    g.add_argument("--gex", type=Path, metavar="FILE", help="GEX CSV (gex, net_gex, total_gex)")
    g.add_argument(
        "--gex-unit", choices=GEX_UNIT_CHOICES,
        help="the unit of the --gex file's values (default: USD, checked)",
    )  # fmt: skip
    g.add_argument(
        "--dark-pool", "--darkpool", dest="dark_pool", type=Path, nargs="+", metavar="FILE",
        help="dark-pool ratio CSV, or FINRA CNMSshvol files (several, or a folder)",
    )  # fmt: skip
    g.add_argument("--demo", action="store_true", help="use the bundled synthetic demo data")
    if as_of:
        g.add_argument(
            "--as-of",
            type=parse_date,
            metavar="YYYY-MM-DD",
            help="replay a past day using only data up to it",
        )


def parse_date(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def data_request(args: argparse.Namespace) -> DataRequest:
    from bot.service import DataRequest

    if args.demo and args.csv:
        raise UserInputError("choose either --demo or --csv, not both")
    dark_pool = tuple(args.dark_pool) if args.dark_pool else None
    return DataRequest(
        csv=args.csv,
        vix=args.vix,
        gex=args.gex,
        dark_pool=dark_pool,
        demo=args.demo,
        gex_unit=getattr(args, "gex_unit", None),
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "forecast",
        help="the forecast for tomorrow and the next 5 days",
        description="The playbook report for the latest day of the data (or --as-of a past "
        "day): market state, active signals with their measured records, the calls for "
        "tomorrow and the next 5 days with ranges, key levels and strategy. Narrated by the "
        "model when OPENAI_API_KEY or OPENAI_BASE_URL is set, else by the offline template. "
        "Without --csv or --demo it reads the local store (see 'update').",
        examples=(
            "forecast --demo --offline          # the synthetic demo, no model",
            "forecast --csv IWM.csv --vix VIX_History.csv --as-of 2024-08-05",
            "forecast --json                    # the MarketState as JSON",
        ),
    )
    add_data_options(p)
    p.add_argument("--json", action="store_true", help="print the MarketState as JSON")
    p.add_argument("--offline", action="store_true", help="use the template, not a model")
    p.set_defaults(func=cmd_forecast)

    p = add_command(
        sub,
        "signals",
        help="every rule, whether it fires, and why",
        description="Every playbook rule for the day with each condition's values and "
        "whether it holds.",
        examples=("signals --demo", "signals --csv IWM.csv --as-of 2024-08-05 --json"),
    )
    add_data_options(p)
    p.add_argument("--json", action="store_true", help="print the rules as JSON")
    p.set_defaults(func=cmd_signals)

    p = add_command(
        sub,
        "schema",
        help="print the MarketState JSON schema",
        description="The JSON schema of the MarketState that 'forecast --json' prints and "
        "the narrator reads.",
        examples=("schema > market_state.schema.json",),
    )
    p.set_defaults(func=cmd_schema)


def cmd_forecast(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring

    service = wiring.service(settings)
    req, why = service.or_demo(data_request(args))
    if why:
        print(f"note: {why}\n", file=sys.stderr)
    if args.json:
        print(service.state(req, args.as_of).model_dump_json(indent=2))
        return 0
    report = service.forecast(req, args.as_of, offline=args.offline)
    print(report.text)
    return 0


def cmd_signals(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring
    from bot.views.tables import signals_text

    state = wiring.service(settings).signals(data_request(args), args.as_of)
    if args.json:
        rules = [r.model_dump(mode="json", exclude={"stats"}) for r in state.rules]
        print(json.dumps({"as_of": state.as_of.isoformat(), "rules": rules}, indent=2))
        return 0
    print(signals_text(state))
    return 0


def cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    from engine.state import MarketState

    print(json.dumps(MarketState.model_json_schema(), indent=2))
    return 0
