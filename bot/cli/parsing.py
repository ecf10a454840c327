"""Sub-command parsers with a description and worked examples in every ``--help``."""

from __future__ import annotations

import argparse
import shutil
import textwrap
from collections.abc import Sequence

PROG = "iwm-analyst"


def _wrap(text: str) -> str:
    """``text`` wrapped at the terminal's width (at most 100 columns), paragraphs kept."""
    width = min(shutil.get_terminal_size((80, 24)).columns, 100) - 2
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(textwrap.fill(p, width=max(width, 40)) for p in paragraphs)


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str,
    examples: Sequence[str],
) -> argparse.ArgumentParser:
    """A sub-command whose ``--help`` has ``description`` and an ``examples:`` epilog.

    Each example is a command line without the program name, optionally followed by
    ``  # what it does``.
    """
    lines = [f"  {PROG} {e}" for e in examples]
    return sub.add_parser(
        name,
        help=help,
        description=_wrap(description),
        epilog="examples:\n" + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
