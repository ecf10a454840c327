"""``bot`` (Discord), ``chat`` (the same commands in a terminal) and ``chart``."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.forecast_cmds import add_data_options, data_request
from bot.cli.parsing import add_command
from engine.errors import ConfigError

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)


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
            "chat --demo < questions.txt  # one question a line, then exit",
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
    import aiohttp
    import discord

    from bot import wiring

    bot = wiring.discord_bot(settings)
    try:
        bot.run(settings.discord_token.get_secret_value(), log_handler=None)
    except discord.LoginFailure as exc:
        raise ConfigError(
            "Discord refused DISCORD_TOKEN: copy the bot's token again from the developer "
            "portal into .env"
        ) from exc
    except (TimeoutError, aiohttp.ClientConnectionError, socket.gaierror, ConnectionError) as exc:
        # No network, DNS failure, a proxy or firewall: one line, the details at DEBUG.
        log.debug("cannot reach Discord", exc_info=True)
        print(
            f"error: cannot reach Discord ({connection_reason(exc)}): check the network",
            file=sys.stderr,
        )
        return 1
    return 0


def connection_reason(exc: BaseException) -> str:
    """A short reason for a failed connection, without the library's internals."""
    import aiohttp

    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve {exc.host}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            cause = "connection refused"
        else:
            cause = (exc.os_error.strerror or type(exc.os_error).__name__).lower()
        return f"{exc.host}:{exc.port}: {cause}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."


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
