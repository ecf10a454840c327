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

# The sub-commands in the order they appear in --help: name, the module that implements
# it (its ``register(subparsers)`` adds the full parser), and its one-line help. The
# parser imports only the module of the command being run; every other command is listed
# with this help alone, so start-up does not import every command's code. A test checks
# that this table matches what the modules register.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("forecast", "bot.cli.forecast_cmds", "the forecast for tomorrow and the next 5 days"),
    ("signals", "bot.cli.forecast_cmds", "every rule, whether it fires, and why"),
    ("schema", "bot.cli.forecast_cmds", "print the MarketState JSON schema"),
    (
        "update",
        "bot.cli.data_cmds",
        "bring prices, VIX, FINRA dark pool and GEX up to date in the local store",
    ),
    (
        "import",
        "bot.cli.data_cmds",
        "load your own files (prices, VIX, GEX, dark pool, FINRA, chains) into the store",
    ),
    (
        "prune",
        "bot.cli.data_cmds",
        "remove stored rows dated after a day (default: the last completed session)",
    ),
    (
        "gex",
        "bot.cli.data_cmds",
        "dealer gamma exposure, flip level and walls from the IWM option chain",
    ),
    ("audit", "bot.cli.audit_cmds", "measure every playbook rule against its claim"),
    ("walkforward", "bot.cli.audit_cmds", "replay the forecaster and score it vs baselines"),
    ("scorecard", "bot.cli.audit_cmds", "the live track record from the forecast ledger"),
    ("ask", "bot.cli.model_cmds", "ask a question about today's signals and forecast"),
    ("bot", "bot.cli.discord_cmds", "run the Discord bot (needs DISCORD_TOKEN)"),
    ("chat", "bot.cli.discord_cmds", "the bot's commands in this terminal"),
    ("chart", "bot.cli.discord_cmds", "write the forecast chart as a PNG"),
    ("status", "bot.cli.status_cmds", "data freshness, narrator, and the settings files read"),
)

#: Modules that contribute sub-commands, in --help order.
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for _, module, _ in COMMANDS))


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


class _VersionAction(argparse.Action):
    """``--version``, reading the package metadata only when asked (importlib.metadata
    costs about 20 ms at start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {package_version()}", file=sys.stdout)
        parser.exit(0)


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv``: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the module of the command it names is imported
    (the other commands are listed with their one-line help), else every module."""
    parser = _Parser(
        prog="iwm-analyst",
        description="IWM forecasts from a deterministic engine, with every rule measured.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument(
        "--version", action=_VersionAction, help="show the program's version number and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if argv is None:
        wanted = set(COMMAND_MODULES)
    else:
        command = _command_in(argv)
        wanted = {module for name, module, _ in COMMANDS if name == command}
    for name, module, help in COMMANDS:
        if module in wanted:
            importlib.import_module(module).register(sub)  # all of its commands, in order
            wanted.discard(module)
        elif name not in sub.choices:
            sub.add_parser(name, help=help)
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
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
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
