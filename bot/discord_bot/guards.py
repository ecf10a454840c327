"""What every command and post goes through: cooldowns, permissions, safe text.

* :func:`rate_limited` puts the per-user cooldown on a command (forecast, ask, audit,
  explain, scorecard, signals, chart, status). Commands are declared with
  ``cooldown_after_parsing=True`` (:data:`COMMAND_OPTIONS`), so a call whose arguments
  do not parse is not charged, and the bot's error handler gives the charge back when
  the command fails on bad input.
* :func:`post_permissions` says what the bot may do in a channel before it posts.
* :func:`safe` neutralises mentions in any text the bot sends (template, engine text,
  echoed input); model text was already cleaned by the narrator. ``allowed_mentions``
  is off as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import discord
from discord.ext import commands

from bot.narrator.safety import discord_text

F = TypeVar("F", bound=Callable[..., Any])

#: Keyword options of every rate-limited hybrid command.
COMMAND_OPTIONS: dict[str, Any] = {"cooldown_after_parsing": True}


def _cooldown(ctx: commands.Context[Any]) -> commands.Cooldown | None:
    seconds = ctx.bot.settings.discord_cooldown_seconds
    return commands.Cooldown(1, seconds) if seconds > 0 else None


def rate_limited() -> Callable[[F], F]:
    """One call per user per ``DISCORD_COOLDOWN_SECONDS`` (0 turns it off)."""
    return commands.dynamic_cooldown(_cooldown, commands.BucketType.user)


def safe(text: str) -> str:
    """Text the bot sends, with mentions neutralised."""
    return discord_text(text)


@dataclass(frozen=True)
class PostPermissions:
    """What the bot may do in a channel; ``missing`` names what a post needs and lacks."""

    send: bool
    embed: bool
    attach: bool
    history: bool

    @property
    def missing(self) -> list[str]:
        names = [("Send Messages", self.send), ("Embed Links", self.embed)]
        return [name for name, ok in names if not ok]


def post_permissions(channel: Any) -> PostPermissions:
    """The bot's permissions in ``channel`` (a DM or unknown channel: all granted)."""
    guild = getattr(channel, "guild", None)
    me = getattr(guild, "me", None) if guild is not None else None
    if me is None or not hasattr(channel, "permissions_for"):
        return PostPermissions(True, True, True, True)
    perms: discord.Permissions = channel.permissions_for(me)
    send = (
        perms.send_messages_in_threads
        if isinstance(channel, discord.Thread)
        else (perms.send_messages)
    )
    view = perms.view_channel
    return PostPermissions(
        send=bool(view and send),
        embed=bool(perms.embed_links),
        attach=bool(perms.attach_files),
        history=bool(perms.read_message_history),
    )
