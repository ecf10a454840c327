"""Terminal output for the CLI: the drawing lives in :mod:`bot.terminal` (the chat uses
it too); re-exported here for the commands."""

from __future__ import annotations

from bot.terminal import (
    VERDICT_STYLE,
    console,
    print_audit,
    print_markdown,
    print_scorecard,
    print_scores,
    print_table,
    print_walkforward,
)

__all__ = [
    "VERDICT_STYLE",
    "console",
    "print_audit",
    "print_markdown",
    "print_scorecard",
    "print_scores",
    "print_table",
    "print_walkforward",
]
