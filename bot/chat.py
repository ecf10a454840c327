"""The bot's commands in a terminal, for people without Discord.

Reads lines from ``stdin`` and prints plain-text answers: ``forecast``, ``signals``,
``explain <rule>``, ``ask <question>`` (or any other line, taken as a question),
``help``, ``quit``. The conversation is remembered for follow-ups.
"""

from __future__ import annotations

import logging
from typing import TextIO

from bot.service import AnalystService, DataRequest
from engine.errors import AnalystError

log = logging.getLogger(__name__)

HELP = (
    "commands: forecast | signals | explain <rule> | ask <question> | help | quit\n"
    "any other line is taken as a question about today's signals"
)


def run_chat(service: AnalystService, req: DataRequest, stdin: TextIO, stdout: TextIO) -> int:
    history: list[tuple[str, str]] = []
    print(f"iwm-analyst chat. {HELP}", file=stdout)
    for raw in stdin:
        line = raw.strip()
        if not line:
            continue
        command, _, rest = line.partition(" ")
        command = command.lower()
        try:
            if command in ("quit", "exit"):
                break
            if command == "help":
                out = HELP
            elif command == "forecast":
                out = service.forecast(req).text
            elif command == "signals":
                from bot.views.tables import signals_text

                out = signals_text(service.signals(req))
            elif command == "explain":
                from bot.narrator.answer import offline_answer

                out = offline_answer(rest or "?", service.state(req)).text
            else:
                question = rest if command == "ask" else line
                reply = service.ask(req, question, history)
                history += [("user", question), ("assistant", reply.text)]
                out = reply.text + "".join(f"\n(note: {n})" for n in reply.notes)
        except AnalystError as err:
            out = f"error: {err}"
        except Exception:
            log.exception("chat command failed: %s", command)
            out = "error: something went wrong (details were logged)"
        print(out, file=stdout, flush=True)
    return 0
