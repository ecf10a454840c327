"""Sends whose outcome is unknown: shared by the morning post and the alerts.

Discord may post a message and still answer 500/502/503/504, and a timeout or a dropped
connection says nothing about whether the message went out. Such a send is marked
uncertain (:data:`bot.discord_bot.persist.UNCERTAIN` on its lease owner), so the next
attempt, by the same process too, reads the channel first and records what is there
instead of sending it again.
"""

from __future__ import annotations

import datetime as dt

import aiohttp
import discord

#: How far this host's clock may run ahead of Discord's when history is compared.
CLOCK_SLACK = dt.timedelta(minutes=1)


def may_have_landed(exc: BaseException) -> bool:
    """True when a failed send may still have posted: a timeout, a dropped connection
    or a Discord 5xx (a 4xx such as 403 Forbidden or 413 too large is a refusal)."""
    if isinstance(exc, discord.HTTPException):
        return exc.status >= 500
    return isinstance(exc, (TimeoutError, aiohttp.ClientError, OSError))
