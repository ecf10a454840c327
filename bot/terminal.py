"""Drawing for the terminal (the CLI and the chat): rich tables and markdown that fit the
terminal's width.

Tables come from :mod:`bot.views.tables` as formatted cells. A table wider than the
console drops the columns not marked ``compact`` (the ones Discord also drops), then
rich folds long cells inside their column rather than letting rows wrap into noise.
The width is the terminal's (rich reads ``COLUMNS`` first, then the tty; 80 when
neither is known). Colour and styles only reach a terminal: output to a pipe or a file
carries no escape codes.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from bot.views.tables import TextTable
    from engine.audit import AuditTable
    from engine.walkforward import HorizonScore, WalkForward
    from sources.ledger import Scorecard

VERDICT_STYLE = {
    "supported": "green",
    "contradicted": "red",
    "too few cases": "yellow",
    "not distinguishable from base rate": "white",
    "no claim": "dim",
}


#: The widest a table's first (label) column is kept whole, in characters.
LABEL_MAX = 26


def console(file: IO[str] | None = None) -> Console:
    """A console sized to the terminal, writing to ``file`` (default stdout)."""
    from rich.console import Console

    return Console(file=file, highlight=False)


def _stack(text: str) -> str:
    """A cell's parenthesised part (an interval, a unit) on its own line: narrower."""
    return text.replace(" (", "\n(")


def rich_table(
    table: TextTable,
    *,
    compact: bool = False,
    stacked: bool = False,
    label_width: int | None = None,
) -> Table:
    """``table`` as a rich Table (verdicts coloured); long cells fold in their column.

    ``compact`` keeps only the columns marked compact; ``stacked`` puts each cell's
    parenthesised part (a confidence interval) on a second line; ``label_width`` fixes
    the width of the first column when it holds row labels (longer labels fold).
    """
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    keep = table.keep(compact)
    fit = _stack if stacked else str
    t = Table(title=table.title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for k, i in enumerate(keep):
        c = table.columns[i]
        fixed = label_width if k == 0 and c.align == "left" else None
        t.add_column(
            fit(c.name), justify=c.align, overflow="fold", min_width=fixed, max_width=fixed
        )
    verdict = next((i for i, c in enumerate(table.columns) if c.name == "verdict"), None)
    for row in table.rows:
        cells = {i: escape(fit(row[i])) for i in keep}
        if verdict is not None and verdict in cells:
            style = VERDICT_STYLE.get(row[verdict], "white")
            cells[verdict] = f"[{style}]{escape(row[verdict])}[/]"
        t.add_row(*(cells[i] for i in keep))
    return t


def fitted_table(out: Console, table: TextTable) -> tuple[Table, bool]:
    """The first layout of ``table`` whose natural width fits the console: all columns on
    one line, all columns with intervals stacked, then the compact columns likewise;
    else the narrowest (rich folds its cells). Also whether columns were left out."""
    options = out.options.update(max_width=100_000)
    layouts = [(False, False), (False, True)]
    if any(not c.compact for c in table.columns):
        layouts += [(True, False), (True, True)]
    for compact, stacked in layouts:
        candidate = rich_table(table, compact=compact, stacked=stacked)
        if out.measure(candidate, options=options).maximum <= out.width:
            return candidate, compact
    compact, stacked = layouts[-1]
    # Row labels (rule names) as whole as the other columns' minimums allow.
    first = table.keep(compact)[0]
    widest = max((len(row[first]) for row in table.rows), default=1)
    for width in range(min(widest, LABEL_MAX), 3, -1):
        narrowest = rich_table(table, compact=compact, stacked=stacked, label_width=width)
        # rich's shrinking is not exact at the very minimum: keep two columns spare.
        if out.measure(narrowest, options=options).minimum <= out.width - 2:
            return narrowest, compact
    return rich_table(table, compact=compact, stacked=stacked), compact


def print_table(out: Console, table: TextTable) -> None:
    """Draw ``table`` in the console's width (see :func:`fitted_table`), then its notes
    dimmed."""
    from rich.markup import escape

    shown, dropped = fitted_table(out, table)
    out.print(shown)
    if dropped:
        names = ", ".join(c.name for c in table.columns if not c.compact)
        out.print(f"[dim]({escape(names)} left out to fit {out.width} columns)[/]")
    for note in table.notes:
        out.print(f"[dim]{escape(note)}[/]")


def print_markdown(out: Console, text: str) -> None:
    """Markdown (bold, lists, quotes, code) rendered for the terminal, not shown raw."""
    from rich.markdown import Markdown

    out.print(Markdown(text, hyperlinks=False))


# --- the evidence tables (audit, walk-forward, scorecard) ------------------------------
def print_audit(table: AuditTable, out: Console) -> None:
    from bot.views import tables

    print_table(out, tables.audit_table(table))
    if table.regimes:
        print_table(out, tables.regime_table(table))


def print_scores(scores: tuple[HorizonScore, ...], title: str, out: Console) -> None:
    from bot.views import tables

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
    from rich.markup import escape

    print_scores(
        wf.scores,
        f"Walk-forward {wf.first_date} .. {wf.last_date} (warm-up {wf.warmup} days, "
        "expanding window, no look-ahead)",
        out,
    )
    for note in wf.notes:
        out.print(f"[dim]note: {escape(note)}[/]")


def print_scorecard(card: Scorecard, out: Console) -> None:
    from bot.views import tables

    out.print(
        tables.scorecard_summary(card.recorded, card.filled, card.pending, card.synthetic_excluded),
        markup=False,
    )
    if card.scores:
        print_scores(card.scores, "Live track record", out)
    else:
        out.print("No forecast has an outcome yet: run 'forecast' on days with new data.")
