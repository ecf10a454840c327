"""Follow-up questions: ``ask``, and plain replies to a forecast or in the bot's thread.

Conversations are remembered per user and per channel or thread: one person's turns
never reach another person's prompt, and the question is only ever a user message.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.discord_bot.embeds import message_parts
from bot.discord_bot.guards import COMMAND_OPTIONS, rate_limited, safe
from engine.errors import AnalystError, UserInputError

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot

REPLY_LIMIT = 1900  # Discord allows 2000 characters per message


class FollowupCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot
        # Plain replies are not commands, so they get the same per-user cooldown here.
        self._reply_cooldown = commands.CooldownMapping.from_cooldown(
            1, bot.settings.discord_cooldown_seconds, commands.BucketType.user
        )

    def check_length(self, question: str) -> None:
        limit = self.bot.settings.discord_max_input_chars
        if len(question) > limit:
            raise UserInputError(f"questions are limited to {limit} characters")

    async def answer(self, channel_id: int, user_id: int, question: str) -> list[str]:
        """The answer's messages; the exchange is remembered for this user here."""
        bot = self.bot
        deadline = bot.deadline()
        self.check_length(question)
        ttl = dt.timedelta(hours=bot.settings.discord_conversation_ttl_hours)
        history = bot.state_db.history(channel_id, user_id, bot.clock(), ttl)
        req = await bot.run_blocking(bot.data_request)
        reply = await bot.run_blocking(bot.service.ask, req, question, history, deadline=deadline)
        now = bot.clock()
        bot.state_db.add_turn(channel_id, user_id, "user", question, now)
        bot.state_db.add_turn(channel_id, user_id, "assistant", reply.text, now)
        text = reply.text + "".join(f"\n_({note})_" for note in reply.notes)
        return message_parts(text, REPLY_LIMIT)

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="ask", description="Ask about today's signals and forecast", **COMMAND_OPTIONS
    )
    @rate_limited()
    async def ask(self, ctx: commands.Context[Any], *, question: str) -> None:
        async with ctx.typing():
            parts = await self.answer(ctx.channel.id, ctx.author.id, question)
        for part in parts:
            await ctx.send(part)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A reply to the bot's forecast, or a message in a thread the bot started."""
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
        # A thread started from a message has that message's id.
        in_thread = isinstance(message.channel, discord.Thread) and (
            (me is not None and message.channel.owner_id == me.id)
            or self.bot.state_db.is_forecast_message(message.channel.id)
        )
        if not (is_reply or in_thread):
            return
        try:
            self.check_length(message.content)  # before the cooldown: bad input is free
            if self.bot.settings.discord_cooldown_seconds > 0:
                bucket = self._reply_cooldown.get_bucket(message)
                retry = bucket.update_rate_limit() if bucket else None
                if retry:
                    await message.channel.send(f"⏳ Please wait {retry:.0f} s before asking again.")
                    return
            async with message.channel.typing():
                parts = await self.answer(message.channel.id, message.author.id, message.content)
        except AnalystError as err:
            parts = [safe(f"⚠️ {err}")]
        for part in parts:
            await message.channel.send(part)


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(FollowupCog(bot))
