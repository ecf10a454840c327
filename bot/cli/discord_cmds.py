"""``bot`` (Discord), ``chat`` (the same commands in a terminal) and ``chart``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.forecast_cmds import add_data_options, data_request
from bot.cli.parsing import add_command
from engine.errors import ConfigError

if TYPE_CHECKING:
    from bot.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "bot",
        help="run the Discord bot (needs DISCORD_TOKEN)",
        description="Log in to Discord with DISCORD_TOKEN (from the environment or a .env "
        "file) and serve the commands (!forecast, /ask, ...) until stopped with Ctrl-C. "
        "See the README, 'Discord set-up'.",
        examples=("bot", "bot -v                 # log connection events"),
    )
    p.set_defaults(func=cmd_bot)

    p = add_command(
        sub,
        "chat",
        help="the bot's commands in this terminal",
        description="An interactive prompt with the Discord bot's commands (forecast, "
        "signals, explain RULE, gex, levels, chart, status, audit, scorecard, help, quit; "
        "with or without '!' or '/'); any other line is a question. Up and Down recall "
        "earlier lines. Reads piped input too.",
        examples=(
            "chat --demo",
            "chat                   # the local store",
            "echo signals | iwm-analyst chat --demo",
        ),
    )
    add_data_options(p, as_of=False)
    p.set_defaults(func=cmd_chat)

    p = add_command(
        sub,
        "chart",
        help="write the forecast chart as a PNG",
        description="The price chart with the fired signals, RSI, VIX, the forecast ranges "
        "and the key levels, written as a PNG.",
        examples=("chart --demo -o iwm.png", "chart --csv IWM.csv --as-of 2024-08-05 -o aug5.png"),
    )
    add_data_options(p)
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    p.set_defaults(func=cmd_chart)


def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    if settings.discord_token is None:
        raise ConfigError(
            "DISCORD_TOKEN is not set: create a bot in the Discord developer portal and put "
            "its token in .env (see README, 'Discord set-up')"
        )
    from bot import wiring

    bot = wiring.discord_bot(settings)
    bot.run(settings.discord_token.get_secret_value(), log_handler=None)
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring
    from bot.chat import run_chat

    service = wiring.service(settings)
    req, why = service.or_demo(data_request(args))
    if why:
        print(f"note: {why}", file=sys.stderr)
    return run_chat(service, req, sys.stdin, sys.stdout)


def cmd_chart(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring
    from bot.chart import render_chart

    service = wiring.service(settings)
    req = data_request(args)
    state = service.state(req, args.as_of)
    png = render_chart(service.prepared(req).history(state.as_of), state)
    try:
        args.output.write_bytes(png)
    except OSError as exc:
        raise ConfigError(f"cannot write {args.output}: {exc.strerror}") from exc
    print(f"wrote {args.output} ({len(png):,} bytes, as of {state.as_of})")
    return 0
