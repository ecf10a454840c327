"""Follow-up questions: ``ask``, plain replies to a forecast, messages in the thread the
bot opened on a forecast, and the forecast's Ask button (:mod:`bot.discord_bot.buttons`).

Conversations are remembered per user and per channel or thread: one person's turns
never reach another person's prompt, and the question is only ever a user message.
A thread someone else opened is not the bot's conversation: plain messages there are
left alone (commands still work everywhere).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.embeds import message_parts
from bot.discord_bot.guards import (
    COMMAND_OPTIONS,
    cooldown_text,
    for_members,
    member_lines,
    rate_limited,
    safe,
)
from engine.errors import AnalystError, UserInputError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot

REPLY_LIMIT = 1900  # Discord allows 2000 characters per message


class FollowupCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot
        # Plain replies and the Ask modal are not commands: the same per-user cooldown
        # here, one bucket per user (a rested bucket is replaced, so this stays small).
        self._reply_cooldown: dict[int, commands.Cooldown] = {}

    def check_length(self, question: str) -> None:
        limit = self.bot.settings.discord_max_input_chars
        if len(question) > limit:
            raise UserInputError(f"questions are limited to {limit} characters")

    def retry_after(self, user_id: int) -> float | None:
        """Seconds this user must wait before a plain or modal question (None: now)."""
        if self.bot.settings.discord_cooldown_seconds <= 0:
            return None
        bucket = self._reply_cooldown.get(user_id)
        if bucket is None or bucket.get_tokens() >= bucket.rate:  # fresh or fully rested
            bucket = self._reply_cooldown[user_id] = commands.Cooldown(
                1, self.bot.settings.discord_cooldown_seconds
            )
        return bucket.update_rate_limit()

    async def answer(
        self, channel_id: int, user_id: int, question: str, as_of: dt.date | None = None
    ) -> list[str]:
        """The answer's messages; the exchange is remembered for this user here
        (``channel_id`` is the thread's id in a thread)."""
        bot = self.bot
        deadline = bot.deadline()
        self.check_length(question)
        ttl = dt.timedelta(hours=bot.settings.discord_conversation_ttl_hours)
        history = bot.state_db.history(channel_id, user_id, bot.clock(), ttl)
        req = await bot.run_blocking(bot.data_request)
        reply = await bot.run_blocking(
            bot.service.ask, req, question, history, as_of=as_of, deadline=deadline
        )
        now = bot.clock()
        bot.state_db.add_turn(channel_id, user_id, "user", question, now)
        bot.state_db.add_turn(channel_id, user_id, "assistant", reply.text, now)
        for note in reply.notes:
            log.info("answer note: %s", note)
        # Members never read operator hints, in the answer itself or in its notes.
        notes = [n for n in (for_members(note) for note in reply.notes) if n]
        text = member_lines(reply.text) + "".join(f"\n_({note})_" for note in notes)
        return message_parts(text, REPLY_LIMIT)

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="ask", description="Ask about today's signals and forecast", **COMMAND_OPTIONS
    )
    @app_commands.describe(question="Your question about today's signals, forecast or levels")
    @rate_limited()
    async def ask(self, ctx: commands.Context[Any], *, question: str) -> None:
        async with ctx.typing():
            parts = await self.answer(ctx.channel.id, ctx.author.id, question)
        for part in parts:
            await ctx.send(part)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A reply to the bot's forecast, or a message in a thread the bot opened."""
        if message.author.bot or not message.content:
            return
        if message.content.startswith(self.bot.settings.discord_prefix):
            return  # commands are handled by the command framework
        ref = message.reference
        is_reply = (
            ref is not None
            and ref.message_id is not None
            and (self.bot.state_db.is_forecast_message(ref.message_id))
        )
        me = self.bot.user
        # Only the bot's own threads: one a member opened on the forecast is theirs.
        in_thread = (
            isinstance(message.channel, discord.Thread)
            and me is not None
            and message.channel.owner_id == me.id
        )
        if not (is_reply or in_thread):
            return
        try:
            self.check_length(message.content)  # before the cooldown: bad input is free
            retry = self.retry_after(message.author.id)
            if retry:
                await message.channel.send(cooldown_text(retry))
                return
            async with message.channel.typing():
                parts = await self.answer(message.channel.id, message.author.id, message.content)
        except AnalystError as err:
            parts = [safe(f"⚠️ {err}")]
        for part in parts:
            await message.channel.send(part)


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(FollowupCog(bot))
