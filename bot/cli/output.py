"""Terminal output: :mod:`bot.views` tables drawn with rich at the terminal's width."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from bot.views.tables import TextTable

VERDICT_STYLE = {
    "supported": "green",
    "contradicted": "red",
    "too few cases": "yellow",
    "not distinguishable from base rate": "white",
    "no claim": "dim",
}


def console() -> Console:
    """A console sized to the terminal (rich reads COLUMNS or the tty's width)."""
    from rich.console import Console

    return Console()


def print_table(out: Console, table: TextTable) -> None:
    """Draw ``table`` as a rich Table (verdicts coloured), then its notes dimmed."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=table.title, header_style="bold")
    for c in table.columns:
        t.add_column(c.name, justify=c.align)
    verdict = next((i for i, c in enumerate(table.columns) if c.name == "verdict"), None)
    for row in table.rows:
        cells = [escape(v) for v in row]
        if verdict is not None:
            style = VERDICT_STYLE.get(row[verdict], "white")
            cells[verdict] = f"[{style}]{cells[verdict]}[/]"
        t.add_row(*cells)
    out.print(t)
    for note in table.notes:
        out.print(f"[dim]{escape(note)}[/]")
