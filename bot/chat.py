"""The bot's commands in a terminal, for people without Discord.

An interactive prompt (stdlib :mod:`cmd`) with line editing and a history kept across
sessions (:mod:`readline`, the file in the user's state folder) when stdin is a
terminal; plain line-by-line reading, without a prompt, when it is not (piped input,
tests). Answers are drawn with rich: markdown rendered, tables fitted to the width;
output that is not a terminal carries no escape codes.

Every Discord command works, with or without a leading ``!`` or ``/``: ``forecast``,
``signals``, ``explain RULE``, ``gex``, ``levels``, ``chart [FILE]`` (writes a PNG and
prints its path), ``status``, ``audit``, ``scorecard``, ``ask QUESTION``, ``help``,
``quit``. Any other line, or a command word followed by words it does not take
("forecast for friday?"), is a question for ``ask``; the conversation is remembered for
follow-ups. A command that fails prints one line and the prompt comes back; Ctrl-C
cancels the line or the running command, Ctrl-D (or ``quit``) leaves.
"""

from __future__ import annotations

import cmd
import logging
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bot.service import AnalystService, DataRequest
from bot.terminal import console, print_audit, print_markdown, print_scorecard
from engine.errors import AnalystError, UserInputError

if TYPE_CHECKING:
    from engine.state import MarketState

log = logging.getLogger(__name__)

HISTORY_LINES = 1000

#: Commands and what they do, for ``help`` (the order shown).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("forecast", "the forecast for tomorrow and the next 5 days"),
    ("signals", "every rule, whether it fires today and why"),
    ("explain RULE", "what a rule means, today's values, its measured record"),
    ("gex", "dealer gamma exposure, flip level and walls"),
    ("levels", "the key price levels for the next session"),
    ("chart [FILE]", "write the chart as a PNG and print its path"),
    ("status", "data freshness, narrator, settings files read"),
    ("audit", "each playbook claim against its measured record"),
    ("scorecard", "the live track record of past forecasts"),
    ("ask QUESTION", "a question about today's data (any other line is one too)"),
    ("help", "this list"),
    ("quit", "leave (or Ctrl-D)"),
)

#: Commands that take no argument: followed by words, the line is a question.
_BARE = frozenset({"forecast", "signals", "gex", "levels", "status", "audit", "scorecard"})
_QUIT = frozenset({"quit", "exit", "q", "bye"})


def history_path() -> Path:
    """Where the prompt's history is kept between sessions (the user's state folder)."""
    from platformdirs import user_state_dir

    return Path(user_state_dir("iwm-analyst", appauthor=False)) / "chat_history"


def help_text() -> str:
    width = max(len(name) for name, _ in COMMANDS)
    lines = [f"  {name.ljust(width)}  {what}" for name, what in COMMANDS]
    return "\n".join(
        [
            "commands (with or without ! or /):",
            *lines,
            "any other line is a question, e.g. what's the call wall? / what is RSI?",
        ]
    )


class ChatShell(cmd.Cmd):
    """The prompt. One ``do_x`` per command; lines that are no command go to ``ask``."""

    def __init__(
        self,
        service: AnalystService,
        req: DataRequest,
        stdin: IO[str],
        stdout: IO[str],
        *,
        interactive: bool,
        chart_dir: Path,
    ) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.use_rawinput = interactive  # input() gives readline editing; needs a tty
        self.prompt = "iwm> " if interactive else ""
        self.service = service
        self.req = req
        self.out = console(stdout)
        self.chart_dir = chart_dir
        self.history: list[tuple[str, str]] = []

    # --- dispatch ---------------------------------------------------------------------
    def precmd(self, line: str) -> str:
        """``!signals``, ``/signals`` and ``Signals`` are ``signals``; a bare command word
        followed by more words is a question."""
        text = line.strip()
        if text in ("EOF",):
            return text
        text = text.lstrip("!/").strip()
        word, _, rest = text.partition(" ")
        word = word.lower()
        if word in _QUIT:
            return "quit"
        if word in _BARE and rest.strip():
            return f"ask {text}"
        if word in {name.split()[0] for name, _ in COMMANDS}:
            return f"{word} {rest}".strip()
        return text

    def onecmd(self, line: str) -> bool:
        """Run one line; a known error is one line, anything else is logged."""
        try:
            return super().onecmd(line)
        except AnalystError as err:
            self.out.print(f"error: {err}", markup=False, style="red", soft_wrap=True)
        except KeyboardInterrupt:
            self.out.print("(cancelled)", style="dim")
        except Exception:
            log.exception("chat command failed: %s", line[:80])
            self.out.print("error: something went wrong (details were logged)", style="red")
        return False

    def emptyline(self) -> bool:
        return False  # cmd's default repeats the last command

    def default(self, line: str) -> None:
        self.do_ask(line)

    def completenames(self, text: str, *ignored: object) -> list[str]:
        return [name.split()[0] for name, _ in COMMANDS if name.startswith(text)]

    def complete_explain(self, text: str, *ignored: object) -> list[str]:
        try:
            rules = self.state().rules
        except AnalystError:
            return []
        return [r.name for r in rules if r.name.lower().startswith(text.lower())]

    # --- commands ---------------------------------------------------------------------
    def state(self) -> MarketState:
        return self.service.state(self.req)

    def do_quit(self, arg: str) -> bool:
        return True

    def do_EOF(self, arg: str) -> bool:  # cmd calls this at end of input
        if self.use_rawinput:
            self.out.print()
        return True

    def do_help(self, arg: str) -> bool:
        if arg.strip() and arg.split()[0].lower() not in {n.split()[0] for n, _ in COMMANDS}:
            return self.do_ask(f"help {arg}")  # "help me read the RSI" is a question
        self.out.print(help_text(), markup=False, highlight=False)
        return False

    def do_forecast(self, arg: str) -> bool:
        report = self.service.forecast(self.req)
        print_markdown(self.out, report.text)
        return False

    def do_signals(self, arg: str) -> bool:
        from bot.views.tables import signals_text

        self.out.print(signals_text(self.state()), markup=False, highlight=False)
        return False

    def do_explain(self, arg: str) -> bool:
        from bot.narrator.answer import find_rule, offline_answer

        state = self.state()
        names = ", ".join(r.name for r in state.rules)
        if not arg.strip():
            raise UserInputError(f"explain which rule? Rules: {names}")
        found = find_rule(arg[:100], state)
        if found is None:
            raise UserInputError(f"no rule called '{arg.strip()[:60]}'. Rules: {names}")
        print_markdown(self.out, offline_answer(found.name, state).text)
        return False

    def do_gex(self, arg: str) -> bool:
        from bot.views.levels import as_markdown, gex_lines

        print_markdown(self.out, as_markdown(gex_lines(self.state())))
        return False

    def do_levels(self, arg: str) -> bool:
        from bot.views.levels import levels_text

        print_markdown(self.out, levels_text(self.state()))
        return False

    def do_chart(self, arg: str) -> bool:
        from bot.chart import render_chart

        words = arg.split()
        if words and not (len(words) == 1 and (arg.strip().lower().endswith(".png") or "/" in arg)):
            # "chart of the last month?" is a question, not a file name.
            self.do_ask(f"chart {arg.strip()}")
            return False
        state = self.state()
        png = render_chart(self.service.prepared(self.req).history(state.as_of), state)
        target = Path(arg.strip()).expanduser() if arg.strip() else None
        path = target or self.chart_dir / f"iwm-chart-{state.as_of}.png"
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png)
        except OSError as exc:
            raise UserInputError(f"cannot write {path}: {exc.strerror}") from exc
        written = f"chart written to {path.resolve()} ({len(png):,} bytes)"
        self.out.print(written, markup=False, soft_wrap=True)  # a path is never broken
        return False

    def do_status(self, arg: str) -> bool:
        from bot.status import status_lines

        lines = status_lines(self.service.settings, self.state(), self.service.clock().date())
        self.out.print("\n".join(lines), markup=False, highlight=False)
        return False

    def do_audit(self, arg: str) -> bool:
        print_audit(self.service.audit(self.req), self.out)
        return False

    def do_scorecard(self, arg: str) -> bool:
        print_scorecard(self.service.scorecard(self.req), self.out)
        return False

    def do_ask(self, arg: str) -> bool:
        question = arg.strip()
        if not question:
            raise UserInputError("ask what? e.g. ask what's the call wall?")
        reply = self.service.ask(self.req, question, self.history)
        self.history += [("user", question), ("assistant", reply.text)]
        print_markdown(self.out, reply.text)
        for note in reply.notes:
            self.out.print(f"(note: {note})", style="dim", markup=False)
        return False


def _with_history(path: Path | None, run: Callable[[], None]) -> None:
    """``run`` with readline's history loaded from and saved to ``path`` (if any)."""
    try:
        import readline
    except ImportError:  # no readline on this platform: editing without history
        run()
        return
    if path is not None:
        try:
            readline.read_history_file(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.info("chat history not read from %s: %s", path, exc)
    readline.set_history_length(HISTORY_LINES)
    try:
        run()
    finally:
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(path)
            except OSError as exc:
                log.info("chat history not saved to %s: %s", path, exc)


def run_chat(
    service: AnalystService,
    req: DataRequest,
    stdin: IO[str],
    stdout: IO[str],
    *,
    interactive: bool | None = None,
    history_file: Path | None = None,
    chart_dir: Path | None = None,
) -> int:
    """Run the prompt until ``quit`` or end of input; returns the exit status (0).

    ``interactive`` defaults to whether stdin and stdout are terminals; only then are
    there a prompt, line editing and a history (``history_file``, default
    :func:`history_path`). Charts go to ``chart_dir`` (default: the current folder).
    """
    if interactive is None:
        interactive = stdin.isatty() and stdout.isatty()
    shell = ChatShell(
        service, req, stdin, stdout, interactive=interactive, chart_dir=chart_dir or Path.cwd()
    )
    try:
        as_of = f"data as of {service.state(req).as_of}"
    except AnalystError as err:
        as_of = f"no data yet ({err})"
    intro = f"iwm-analyst chat, {as_of}. Type help for the commands, quit to leave."
    shell.out.print(intro, markup=False, highlight=False)

    def loop() -> None:
        while True:
            try:
                shell.cmdloop(intro="")
                return
            except KeyboardInterrupt:  # at the prompt: a fresh line, not an exit
                shell.out.print("^C (quit or Ctrl-D to leave)", style="dim")

    if interactive:
        _with_history(history_file or history_path(), loop)
    else:
        loop()
    return 0
