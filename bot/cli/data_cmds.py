"""``update``, ``import`` and ``gex``: fill the local store and look at gamma exposure."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InputDataError, UserInputError
from engine.series import SERIES

if TYPE_CHECKING:
    from bot.settings import Settings
    from engine.gex import GexResult
    from engine.series import Series
    from sources.update import UpdateReport

log = logging.getLogger(__name__)

KINDS = SERIES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "update",
        help="bring prices, VIX, FINRA dark pool and GEX up to date in the local store",
        description="Fetch every series from its public source into the local store "
        "(first run backfills FINRA history), then show how fresh each series is.",
    )
    p.add_argument(
        "--only", choices=KINDS, action="append", help="update only this series (repeatable)"
    )
    p.add_argument("--backfill-years", type=int, help="FINRA history on first run (default 3)")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser(
        "import",
        help="load your own CSV files (prices, VIX, GEX history, dark pool) into the store",
        description="Each FILE is read with the engine's CSV importer and written to the "
        "store. The kind is taken from --kind or guessed from the columns.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--kind", choices=KINDS, help="what the files hold (default: auto-detect)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "gex",
        help="dealer gamma exposure, flip level and walls from the IWM option chain",
        description="Net GEX (USD per 1% move), the zero-gamma flip from a ±20% spot "
        "sweep, call/put walls and a by-expiry summary. Reads --chain FILE (CBOE "
        "delayed-quotes JSON or the repackaged layout) or fetches CBOE's chain.",
    )
    p.add_argument("--chain", type=Path, help="a saved chain JSON instead of fetching")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--plot", type=Path, metavar="FILE", help="write the gamma profile PNG")
    p.add_argument("--top", type=int, default=8, help="expiries shown in the summary")
    p.set_defaults(func=cmd_gex)


# --- update -------------------------------------------------------------------------
def cmd_update(
    args: argparse.Namespace, settings: Settings, *, today: dt.date | None = None
) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from bot.wiring import open_store, providers
    from sources.update import SERIES_ORDER, update

    console = Console()
    wanted = tuple(s for s in SERIES_ORDER if not args.only or s in args.only)
    years = settings.backfill_years if args.backfill_years is None else args.backfill_years
    if years < 1:
        raise UserInputError("--backfill-years must be at least 1")
    day = today or dt.date.today()
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
                deadline_seconds=settings.update_deadline_seconds,
            )
    console.print(freshness_table(report))
    for r in report.results:
        if r.error:
            console.print(f"  [red]{r.series} failed:[/red] {r.error}", highlight=False)
        if r.note:
            console.print(f"  {r.series}: {r.note}", highlight=False)
    if not report.ok:
        console.print(
            f"[red]{len(report.failed)} source(s) failed[/red]; the others were updated. "
            "Run again later, or load your own files with 'iwm-analyst import'."
        )
    return 0 if report.ok else 1


def freshness_table(report: UpdateReport) -> Any:
    from rich.table import Table

    table = Table(title=f"Store after update (last NYSE session {report.last_session})")
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
def guess_kind(path: Path) -> Series:
    """The series a CSV holds, from its header: gex, dark pool, prices or VIX."""
    try:
        with path.open(encoding="utf-8-sig") as fh:
            header = fh.readline()
    except OSError as exc:
        raise InputDataError(f"cannot read {path}: {exc}") from exc
    cols = {c.strip().strip('"').lower() for c in header.replace("|", ",").split(",")}
    if cols & {"gex", "net_gex", "netgex"}:
        return "gex"
    if cols & {"dp_ratio", "ratio", "shortvolume", "short_volume", "dix"}:
        return "dark_pool"
    # An index file often carries an all-zero volume column, so the name decides first.
    if "vix" in cols or "vix" in path.stem.lower():
        return "vix"
    if "volume" in cols or "adj close" in cols or "adj_close" in cols:
        return "prices"
    raise UserInputError(
        f"cannot tell what {path.name} holds from its columns {sorted(cols)}; "
        "pass --kind prices|vix|gex|dark_pool"
    )


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.wiring import open_store
    from sources.csv_import import read_series_csv

    with open_store(settings) as store:
        for path in args.files:
            kind: Series = args.kind or guess_kind(path)
            frame = read_series_csv(path, kind)
            source = f"import:{path.name}"
            if kind == "prices":
                changed = store.upsert(kind, frame, source=source, ticker=settings.ticker)
            else:
                if kind not in frame.columns:
                    raise InputDataError(f"{path.name}: no {kind} values found")
                changed = store.upsert_values(kind, frame, source=source, ticker=settings.ticker)
            info = store.info(kind, settings.ticker)
            print(
                f"{path.name}: {kind}, {len(frame)} rows read, {changed} new or changed; "
                f"store holds {info.rows} rows {info.first_date} .. {info.last_date}"
            )
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
    if args.plot is not None:
        from bot.gex_plot import plot_gamma_profile

        plot_gamma_profile(result, args.plot, title=snap.symbol)
    if args.json:
        print(json.dumps(gex_payload(result, snap.symbol, snap.source), indent=2))
    else:
        from bot.views.tables import gex_text

        print(gex_text(result, snap.symbol, snap.source, top=args.top))
        if args.plot is not None:
            print(f"gamma profile written to {args.plot}")
    return 0


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
