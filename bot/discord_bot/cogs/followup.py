"""Follow-up questions: ``ask``, and plain replies to a forecast or in the bot's thread."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.discord_bot.embeds import split_text
from engine.errors import AnalystError, UserInputError

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot

REPLY_LIMIT = 1900  # Discord allows 2000 characters per message


def _cooldown(ctx: commands.Context[Any]) -> commands.Cooldown | None:
    seconds = ctx.bot.settings.discord_cooldown_seconds
    return commands.Cooldown(1, seconds) if seconds > 0 else None


class FollowupCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot
        # Plain replies are not commands, so they get the same per-user cooldown here.
        self._reply_cooldown = commands.CooldownMapping.from_cooldown(
            1, bot.settings.discord_cooldown_seconds, commands.BucketType.user
        )

    async def answer(self, channel_id: int, question: str) -> list[str]:
        """The answer's messages; the exchange is remembered for this channel."""
        bot = self.bot
        limit = bot.settings.discord_max_input_chars
        if len(question) > limit:
            raise UserInputError(f"questions are limited to {limit} characters")
        ttl = dt.timedelta(hours=bot.settings.discord_conversation_ttl_hours)
        history = bot.state_db.history(channel_id, bot.clock(), ttl)
        req = await bot.run_blocking(bot.data_request)
        reply = await bot.run_blocking(bot.service.ask, req, question, history)
        now = bot.clock()
        bot.state_db.add_turn(channel_id, "user", question, now)
        bot.state_db.add_turn(channel_id, "assistant", reply.text, now)
        text = reply.text + "".join(f"\n_({note})_" for note in reply.notes)
        return split_text(text, REPLY_LIMIT)

    @commands.hybrid_command(name="ask", description="Ask about today's signals and forecast")  # type: ignore[arg-type]  # discord.py's decorator typing
    @commands.dynamic_cooldown(_cooldown, commands.BucketType.user)
    async def ask(self, ctx: commands.Context[Any], *, question: str) -> None:
        async with ctx.typing():
            parts = await self.answer(ctx.channel.id, question)
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
        if self.bot.settings.discord_cooldown_seconds > 0:
            bucket = self._reply_cooldown.get_bucket(message)
            retry = bucket.update_rate_limit() if bucket else None
            if retry:
                await message.channel.send(f"⏳ Please wait {retry:.0f} s before asking again.")
                return
        try:
            async with message.channel.typing():
                parts = await self.answer(message.channel.id, message.content)
        except AnalystError as err:
            parts = [f"⚠️ {err}"]
        for part in parts:
            await message.channel.send(part)


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(FollowupCog(bot))
