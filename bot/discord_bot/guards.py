"""What every command and post goes through: cooldowns, permissions, safe text.

* :func:`rate_limited` puts the per-user cooldown on a command (forecast, ask, audit,
  explain, scorecard, signals, chart, status). Commands are declared with
  ``cooldown_after_parsing=True`` (:data:`COMMAND_OPTIONS`), so a call whose arguments
  do not parse is not charged, and the bot's error handler gives the charge back when
  the command fails on bad input.
* :func:`post_permissions` says what the bot may do in a channel before it posts.
* :func:`bot_can` is a command check: the bot's own permissions in the channel, named
  when missing (:class:`discord.ext.commands.BotMissingPermissions`).
* :func:`for_members` keeps operator hints ("run 'iwm-analyst update'", "set
  OPENAI_API_KEY") out of what members read; they go to the log and to ``status`` for
  people who manage the server.
* :func:`safe` neutralises mentions in any text the bot sends (template, engine text,
  echoed input); model text was already cleaned by the narrator. ``allowed_mentions``
  is off as well.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import discord
from discord.ext import commands

from bot.narrator.safety import discord_text

log = logging.getLogger(__name__)

#: The reply to a failure nobody foresaw (the details go to the log).
SORRY = "Something went wrong on my side; it has been logged. Please try again later."


def cooldown_text(seconds: float) -> str:
    """The reply to a request inside its cooldown."""
    return f"⏳ Please wait {seconds:.0f} s before asking again."


async def delete_placeholder(interaction: discord.Interaction[Any]) -> bool:
    """Delete a slash command's public \"thinking…\" placeholder, so what is sent next is a
    new message (a private one can be) rather than that placeholder. False if Discord
    refused: the next message then fills the placeholder."""
    try:
        await interaction.delete_original_response()
    except discord.HTTPException as exc:
        log.warning("could not remove a placeholder: HTTP %s", exc.status)
        return False
    return True


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
    in_thread: bool = False
    #: may open a public thread on its own message (False in a DM or a thread)
    threads: bool = False

    @property
    def send_name(self) -> str:
        return "Send Messages in Threads" if self.in_thread else "Send Messages"

    @property
    def missing(self) -> list[str]:
        """What a post needs (send, embed) and lacks."""
        return self.lacking(embed=True)

    def lacking(self, *, embed: bool = False, attach: bool = False) -> list[str]:
        """The permissions a reply with embeds and/or files needs and lacks, by name."""
        names = [(self.send_name, self.send)]
        if embed:
            names.append(("Embed Links", self.embed))
        if attach:
            names.append(("Attach Files", self.attach))
        return [name for name, ok in names if not ok]


def post_permissions(channel: Any) -> PostPermissions:
    """The bot's permissions in ``channel`` (a DM or unknown channel: all granted)."""
    guild = getattr(channel, "guild", None)
    me = getattr(guild, "me", None) if guild is not None else None
    if me is None or not hasattr(channel, "permissions_for"):
        return PostPermissions(True, True, True, True)
    perms: discord.Permissions = channel.permissions_for(me)
    in_thread = isinstance(channel, discord.Thread)
    send = perms.send_messages_in_threads if in_thread else perms.send_messages
    view = perms.view_channel
    return PostPermissions(
        send=bool(view and send),
        embed=bool(perms.embed_links),
        attach=bool(perms.attach_files),
        history=bool(perms.read_message_history),
        in_thread=in_thread,
        threads=bool(
            not in_thread
            and isinstance(channel, discord.TextChannel)
            and perms.create_public_threads
            and perms.send_messages_in_threads
        ),
    )


def bot_can(*, embed: bool = False, attach: bool = False) -> Callable[[F], F]:
    """Check that the bot may answer here (send, and embed/attach when asked).

    Raises :class:`commands.BotMissingPermissions` naming what is missing; a slash
    command's reply to it needs no channel permission (it is the interaction's answer).
    """

    async def predicate(ctx: commands.Context[Any]) -> bool:
        missing = post_permissions(ctx.channel).lacking(embed=embed, attach=attach)
        if missing:
            raise commands.BotMissingPermissions(missing)
        return True

    return commands.check(predicate)


def managers_only() -> Callable[[F], F]:
    """Server channels only, for members with Manage Server: in that order, so a DM is
    told it is a DM (``NoPrivateMessage``), not that a permission is missing."""

    async def predicate(ctx: commands.Context[Any]) -> bool:
        if ctx.guild is None:
            raise commands.NoPrivateMessage()
        if not ctx.permissions.manage_guild:
            raise commands.MissingPermissions(["manage_guild"])
        return True

    return commands.check(predicate)


#: A hint meant for whoever runs the bot: a CLI command, a flag, a setting, ``.env``.
_OPERATOR = re.compile(
    r"iwm-analyst|(?<![\w-])--[a-z]|\b(?:OPENAI|IWM|DISCORD|LLM)_[A-Z0-9_]+\b|\.env\b"
)
#: A clause left over that only tells someone what to do ("Use your own data").
_IMPERATIVE = re.compile(r"\W*(use|run|set|try|remove|add|re-import)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_BREAKS = (": ", "; ", " (", " - ", ", ")
_BRACKETED = re.compile(r"\s*\([^()]*\)")


def for_members(text: str) -> str:
    """``text`` without operator hints: each sentence holding one is cut at the last
    clause break before it ("prices end on X: run 'iwm-analyst update'" becomes
    "prices end on X"), or dropped when nothing (or only an instruction such as "Use
    your own data") comes before it."""
    out: list[str] = []
    # A hint in brackets goes alone: "timed out (... a larger OPENAI_TIMEOUT), so ...".
    text = _BRACKETED.sub(lambda m: "" if _OPERATOR.search(m[0]) else m[0], text)
    for sentence in _SENTENCE.split(text):
        hit = _OPERATOR.search(sentence)
        if hit is None:
            out.append(sentence)
            continue
        cut = max(sentence.rfind(b, 0, hit.start()) for b in _CLAUSE_BREAKS)
        kept = sentence[:cut].rstrip(" ,;:-") if cut > 0 else ""
        if kept and not _IMPERATIVE.match(kept):
            end = sentence.rstrip()[-1:]
            out.append(kept + (end if end in ".!?" else ""))
    return " ".join(s for s in out if s.strip())


def member_lines(text: str) -> str:
    """:func:`for_members` applied to each line that holds an operator hint."""
    out: list[str] = []
    for line in text.splitlines():
        if _OPERATOR.search(line) is None:
            out.append(line)
        elif (kept := for_members(line)).strip(" >*-_"):
            out.append(kept)
    # A paragraph that was only a hint leaves no double gap behind.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


#: Permission attribute names as Discord's client shows them.
PERMISSION_NAMES = {"manage_guild": "Manage Server", "manage_channels": "Manage Channels"}


def permission_name(attr: str) -> str:
    """``manage_guild`` -> ``Manage Server``; names already readable pass through."""
    if attr in PERMISSION_NAMES:
        return PERMISSION_NAMES[attr]
    if "_" not in attr:
        return attr
    return " ".join(w.capitalize() for w in attr.split("_"))
