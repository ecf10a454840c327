"""``status``: data freshness, the narrator in use, and which settings files were read."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.cli.forecast_cmds import add_data_options, data_request
from bot.cli.parsing import add_command

if TYPE_CHECKING:
    from bot.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "status",
        help="data freshness, narrator, and the settings files read",
        description="How fresh each series is, which narrator writes (model or offline "
        "template), today's model token use, the store's path and which .env files were "
        "read (./.env wins over ~/.config/iwm-analyst/.env; paths only, never values).",
        examples=("status", "status --demo"),
    )
    add_data_options(p, as_of=False)
    p.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring
    from bot.status import status_lines

    service = wiring.service(settings)
    req, why = service.or_demo(data_request(args))
    if why:
        print(f"note: {why}", file=sys.stderr)
    today = service.clock().date()
    print("\n".join(status_lines(settings, service.state(req), today)))
    return 0
