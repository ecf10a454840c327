"""``ask``: one follow-up question about the day's signals, answered from the state."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.forecast_cmds import add_data_options, data_request
from bot.cli.parsing import add_command

if TYPE_CHECKING:
    from bot.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "ask",
        help="ask a question about today's signals and forecast",
        description="One question about the day's state, answered by the model when one is "
        "configured (every figure checked against the state) or from the state itself: "
        "levels and walls, indicators and what they mean, a named rule, the calls.",
        examples=(
            'ask "what\'s the call wall?" --offline',
            'ask "what is RSI?" --demo',
            'ask "why did GEX_Negative fire?" --csv IWM.csv --gex gex.csv',
        ),
    )
    p.add_argument("question", help='e.g. "why is GEX_Negative bullish for IWM?"')
    add_data_options(p)
    p.add_argument("--offline", action="store_true", help="answer without a model")
    p.set_defaults(func=cmd_ask)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot import wiring

    reply = wiring.service(settings).ask(
        data_request(args), args.question, as_of=args.as_of, offline=args.offline
    )
    print(reply.text)
    for note in reply.notes:
        print(f"\n(note: {note})")
    return 0
