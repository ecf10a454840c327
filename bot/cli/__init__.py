"""``iwm-analyst``: the command-line front-end.

Each command group lives in its own module exposing ``register(subparsers)``; a handler
takes ``(args, settings)`` and returns an exit status. Handlers stay thin: they parse,
call :class:`bot.service.AnalystService`, format and print. Heavy imports happen inside
handlers so that start-up stays fast.

Known errors (:class:`engine.errors.AnalystError`) print one line on stderr and exit with
the error's ``exit_code`` (2 for bad input); anything else is logged with a traceback
in the log and reported as an internal error.

Logging: ``IWM_LOG_LEVEL`` (default WARNING), ``-v`` for INFO, ``-vv`` for DEBUG. A model
or provider failure is one WARNING line; its traceback appears only at DEBUG. The HTTP
and Discord libraries speak only from WARNING unless ``-vv``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from engine.errors import AnalystError

log = logging.getLogger(__name__)

# Modules that contribute sub-commands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.forecast_cmds",
    "bot.cli.data_cmds",
    "bot.cli.audit_cmds",
    "bot.cli.model_cmds",
    "bot.cli.discord_cmds",
    "bot.cli.status_cmds",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n(run '{self.prog} --help' for usage)\n")


def package_version() -> str:
    """The installed package's version (from its metadata), or 'unknown' when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("iwm-analyst")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="iwm-analyst",
        description="IWM forecasts from a deterministic engine, with every rule measured.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


#: Libraries that log every request at INFO: heard only from WARNING unless -vv.
CHATTY_LOGGERS = ("httpx", "httpcore", "openai", "discord", "matplotlib", "asyncio")


def _configure_logging(verbosity: int, default_level: str) -> None:
    level = {0: default_level.upper(), 1: "INFO"}.get(verbosity, "DEBUG")
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if verbosity < 2:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.root.level))
        # The bot has no voice features: discord.py's start-up notes about them are noise.
        logging.getLogger("discord.client").addFilter(_no_voice_notes)


def _no_voice_notes(record: logging.LogRecord) -> bool:
    return "voice will NOT be supported" not in record.getMessage()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from bot.settings import load_settings

        settings = load_settings()
        _configure_logging(args.verbose, settings.log_level)
        return int(args.func(args, settings) or 0)
    except AnalystError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:
        log.exception("unexpected error in %s", args.command)
        print(
            "error: an internal error occurred (details were logged; run with -v for more)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
