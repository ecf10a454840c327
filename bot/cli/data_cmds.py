"""``update``, ``import`` and ``gex``: fill the local store and look at gamma exposure."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.cli.forecast_cmds import GEX_UNIT_CHOICES, parse_date
from bot.cli.parsing import add_command
from engine.errors import AnalystError, InputDataError, UserInputError
from engine.series import SERIES
from sources.urls import public_url

NEW_YORK = ZoneInfo("America/New_York")

if TYPE_CHECKING:
    from bot.settings import Settings
    from engine.gex import GexResult
    from sources.providers.chain import ChainSnapshot
    from sources.update import UpdateReport

log = logging.getLogger(__name__)

KINDS = SERIES
IMPORT_KINDS = (*SERIES, "chain")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "update",
        help="bring prices, VIX, FINRA dark pool and GEX up to date in the local store",
        description="Fetch every series from its public source into the local store "
        "(first run backfills FINRA history), then show how fresh each series is.",
        examples=("update", "update --only prices --only vix", "update --backfill-years 1"),
    )
    p.add_argument(
        "--only", choices=KINDS, action="append", help="update only this series (repeatable)"
    )
    p.add_argument("--backfill-years", type=int, help="FINRA history on first run (default 3)")
    p.set_defaults(func=cmd_update)

    p = add_command(
        sub,
        "import",
        help="load your own files (prices, VIX, GEX, dark pool, FINRA, chains) into the store",
        description="Every FILE (or every file in a FOLDER) is read and validated first, "
        "then all are written in one transaction, or none. The kind is taken from --kind "
        "or guessed from the header: CSV prices, VIX, GEX history (DIX.csv is stored as "
        "the SPX stand-in), dark pool, FINRA CNMSshvol files, or an option-chain JSON "
        "(stored as an IWM GEX snapshot). Rows that differ from stored ones are not "
        "overwritten unless you pass --replace.",
        examples=(
            "import IWM.csv VIX_History.csv DIX.csv",
            "import finra/            # a folder of CNMSshvol files",
            "import IWM.csv --dry-run",
        ),
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument(
        "--kind", choices=IMPORT_KINDS, help="what the files hold (default: auto-detect)"
    )
    p.add_argument(
        "--replace", action="store_true", help="overwrite stored rows the files disagree with"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and report what would change; write nothing",
    )
    p.add_argument(
        "--underlying",
        metavar="SYMBOL",
        help="whose gamma a GEX history holds (default: SPX for DIX.csv, else the ticker)",
    )
    p.add_argument(
        "--gex-unit", choices=GEX_UNIT_CHOICES, help="the unit of GEX values (default: USD)"
    )
    p.set_defaults(func=cmd_import)

    p = add_command(
        sub,
        "prune",
        help="remove stored rows dated after a day (default: the last completed session)",
        description="Delete every series' rows dated after --after (default: the latest "
        "completed NYSE session), e.g. future-dated rows an older version let in.",
        examples=("prune --dry-run", "prune --after 2026-01-30"),
    )
    p.add_argument(
        "--after", type=parse_date, metavar="YYYY-MM-DD", help="keep rows up to this day"
    )
    p.add_argument("--dry-run", action="store_true", help="count the rows; delete nothing")
    p.set_defaults(func=cmd_prune)

    p = add_command(
        sub,
        "gex",
        help="dealer gamma exposure, flip level and walls from the IWM option chain",
        description="Net GEX (USD per 1% move), the zero-gamma flip from a ±20% spot "
        "sweep, call/put walls and a by-expiry summary. Reads --chain FILE (CBOE "
        "delayed-quotes JSON or the repackaged layout) or fetches CBOE's chain.",
        examples=("gex", "gex --chain iwm_chain.json --plot gamma.png", "gex --save --json"),
    )
    p.add_argument("--chain", type=Path, help="a saved chain JSON instead of fetching")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--plot", type=Path, metavar="FILE", help="write the gamma profile PNG")
    p.add_argument("--top", type=int, default=8, help="expiries shown in the summary")
    p.add_argument(
        "--save",
        action="store_true",
        help="store the snapshot in the local store as the ticker's GEX of its session",
    )
    p.set_defaults(func=cmd_gex)


# --- update -------------------------------------------------------------------------
def cmd_update(
    args: argparse.Namespace, settings: Settings, *, today: dt.date | None = None
) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from bot.wiring import open_store, providers
    from sources.update import SERIES_ORDER, update

    console = Console(highlight=False)
    wanted = tuple(s for s in SERIES_ORDER if not args.only or s in args.only)
    years = settings.backfill_years if args.backfill_years is None else args.backfill_years
    if years < 1:
        raise UserInputError("--backfill-years must be at least 1")
    # The day is New York's (the exchange's), not this machine's.
    now = None if today else dt.datetime.now(dt.UTC)
    day = today or now.astimezone(NEW_YORK).date()  # type: ignore[union-attr]
    with open_store(settings) as store:
        bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        tasks: dict[str, Any] = {}

        def progress(series: str, done: int, total: int) -> None:
            if series not in tasks:
                tasks[series] = bar.add_task(f"{series}: downloading", total=total)
            bar.update(tasks[series], completed=done, total=total)

        with bar:
            report = update(
                store,
                providers(settings),
                day,
                progress,
                ticker=settings.ticker,
                backfill_years=years,
                series=wanted,
                now=now,
                deadline_seconds=settings.update_deadline_seconds,
            )
    console.print(freshness_table(report))
    for r in report.results:
        if r.error:  # the whole message at -v; the summary below has it in one phrase
            log.info("%s failed: %s", r.series, r.error)
        if r.note:
            console.print(f"  {r.series}: {r.note}", markup=False)
    print_alerts(console, settings)
    for line in report.summary():
        style = "red" if line.startswith(("failed", "nothing")) and not report.ok else None
        console.print(line, markup=False, style=style)
    if not report.ok:
        console.print(
            "Run again later (-v shows each error in full), or load your own files with "
            "'iwm-analyst import'.",
            markup=False,
        )
    return 0 if report.ok else 1


def print_alerts(console: Any, settings: Settings) -> None:
    """The alerts of the latest session after an update (the bot posts the same ones)."""
    from bot.alerts import latest_alerts
    from bot.service import DataRequest
    from bot.wiring import service

    try:
        found = latest_alerts(service(settings), DataRequest())
    except AnalystError as exc:
        log.info("alerts not checked after the update: %s", exc)
        return
    for event in found.events:
        # The text holds rule labels: with markup on, a "[/x]" in one would raise.
        console.print(f"alert {event.as_of}: {event.text}", markup=False, highlight=False)


def freshness_table(report: UpdateReport) -> Any:
    from rich.table import Table

    table = Table(title=f"Store after update ({report.session})")
    for col in ("series", "source", "rows changed", "last date", "behind", "status"):
        table.add_column(col)
    for r in report.results:
        behind = "-" if r.stale_days is None else f"{r.stale_days} day(s)"
        if r.error:
            status = "[red]failed (see below)[/red]"
        elif r.stale_days is not None and r.stale_days > 1:
            status = "[yellow]stale[/yellow]"
        else:
            status = "[green]fresh[/green]" if r.last_date else "[yellow]empty[/yellow]"
        table.add_row(
            r.series,
            r.source or "-",
            str(r.changed),
            str(r.last_date or "-"),
            behind,
            status,
        )
    return table


# --- import -------------------------------------------------------------------------
def guess_kind(path: Path) -> str:
    """The kind a file holds, from its header (see :func:`sources.importer.guess_kind`)."""
    from sources.importer import guess_kind as guess

    return guess(Path(path))


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring
    from sources.importer import import_files, read_files
    from sources.update import adv_dollars

    checks = wiring.service(settings).checks(gex_unit=args.gex_unit)
    with wiring.open_store(settings) as store:
        reads = read_files(
            args.files,
            args.kind,
            checks,
            underlying=args.underlying,
            adv_dollars=adv_dollars(store, settings.ticker),
        )
        result = import_files(
            store, reads, ticker=settings.ticker, replace=args.replace, dry_run=args.dry_run
        )
        for diff in result.differences:
            print(f"{'would replace' if args.dry_run else 'replaced'}: {diff.describe()}")
        for read in reads:
            what = (
                f"{read.series} ({read.underlying} {read.method})"
                if read.series == "gex"
                else read.series
            )
            changed = result.changed.get(read.path.name)
            done = "" if changed is None else f", {changed} new or changed"
            print(f"{read.path.name}: {what}, {len(read.frame)} rows read{done}")
            for note in read.notes:
                print(f"  note: {note}")
        if result.written:
            for series in dict.fromkeys(r.series for r in reads):
                info = store.info(series, settings.ticker)
                print(
                    f"store: {series} holds {info.rows} rows {info.first_date} .. {info.last_date}"
                )
        else:
            print("dry run: nothing was written")
    return 0


def cmd_prune(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring

    after = args.after or wiring.service(settings).checks().latest_session
    if after is None:  # pragma: no cover - the service's checks always have a session
        raise UserInputError("give the last day to keep with --after YYYY-MM-DD")
    with wiring.open_store(settings) as store:
        if args.dry_run:
            counts = {s: store.count_after(s, after, settings.ticker) for s in SERIES}
        else:
            counts = store.delete_after(after, settings.ticker)
    verb = "would remove" if args.dry_run else "removed"
    listed = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no rows"
    print(f"{verb} {listed} dated after {after}")
    return 0


# --- gex ----------------------------------------------------------------------------
def cmd_gex(args: argparse.Namespace, settings: Settings) -> int:
    from bot.wiring import providers
    from engine.gex import compute_gex
    from sources.providers.chain import read_chain_file

    if args.chain is not None:
        snap = read_chain_file(args.chain)
    else:
        snap = providers(settings).chain.fetch()
    adv = _store_adv(settings)
    try:
        result = compute_gex(snap.contracts, snap.spot, snap.as_of, adv_dollars=adv)
    except ValueError as exc:
        raise InputDataError(f"the option chain cannot be used: {exc}") from exc
    if args.save:
        _save_snapshot(settings, args.chain, snap, result)
    if args.plot is not None:
        from bot.gex_plot import plot_gamma_profile

        plot_gamma_profile(result, args.plot, title=snap.symbol)
    if args.json:
        print(json.dumps(gex_payload(result, snap.symbol, public_url(snap.source)), indent=2))
    else:
        from bot.views.tables import gex_text

        print(gex_text(result, snap.symbol, public_url(snap.source), top=args.top))
        if args.plot is not None:
            print(f"gamma profile written to {args.plot}")
    return 0


def _save_snapshot(
    settings: Settings, chain: Path | None, snap: ChainSnapshot, result: GexResult
) -> None:
    """Store the chain as the ticker's GEX snapshot of the session it shows.

    A chain file goes through ``import``'s own checks (its time stamp not after the last
    completed session, the ticker's own chain); a later chain of the same session
    replaces the earlier snapshot.
    """
    from bot import wiring
    from sources.importer import import_files, read_files
    from sources.update import adv_dollars, snapshot_day

    with wiring.open_store(settings) as store:
        if chain is not None:
            checks = wiring.service(settings).checks()
            reads = read_files(
                [chain], "chain", checks, adv_dollars=adv_dollars(store, settings.ticker)
            )
            changed = import_files(store, reads, ticker=settings.ticker, replace=True).changed
            day, n = reads[0].day, sum(changed.values())
        else:
            day = snapshot_day(snap.as_of)
            n = store.save_gex_snapshot(
                day, result, source=f"chain:{snap.source}", ticker=settings.ticker
            )
    print(
        f"saved: {settings.ticker} chain snapshot of {day} from {public_url(snap.source)} "
        f"({n} rows new or changed)",
        file=sys.stderr,
    )


def _store_adv(settings: Settings) -> float | None:
    """Average daily dollar volume from the store, when it has prices."""
    from bot.wiring import open_store

    if not settings.database.is_file():
        return None
    from sources.update import adv_dollars

    with open_store(settings) as store:
        return adv_dollars(store, settings.ticker)


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def gex_payload(result: GexResult, symbol: str, source: str) -> dict[str, Any]:
    """Plain JSON: USD per 1% move; levels in USD."""
    return {
        "symbol": symbol,
        "source": source,
        **{k: _num(v) if isinstance(v, float) else v for k, v in result.summary().items()},
        "gamma_computed_from_iv": result.gamma_computed,
        "by_expiry": [
            {
                "expiration": f"{ts:%Y-%m-%d}",
                "call_gex": float(row["call_gex"]),
                "put_gex": float(row["put_gex"]),
                "net_gex": float(row["net_gex"]),
                "contracts": int(row["contracts"]),
            }
            for ts, row in result.by_expiry.iterrows()
        ],
        "notes": list(result.notes),
    }
