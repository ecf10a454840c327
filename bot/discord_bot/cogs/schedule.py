"""``schedule`` (Manage Server only) and the loop that makes the morning posts
(:mod:`bot.discord_bot.posting`)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from discord.ext import commands, tasks

from bot.discord_bot.persist import Schedule
from bot.discord_bot.posting import MorningPoster
from bot.discord_bot.scheduler import next_post
from engine.errors import UserInputError
from sources.calendar import is_trading_day

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot

log = logging.getLogger(__name__)


def parse_time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise UserInputError(f"'{text[:20]}' is not a time; use HH:MM, e.g. 08:30") from None


def parse_zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(
            f"'{text[:40]}' is not a time zone; use a name like America/New_York"
        ) from None
    return text


class ScheduleCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot
        self.poster = MorningPoster(bot)

    async def cog_load(self) -> None:
        if self.bot.start_scheduler:
            self.loop.start()

    async def cog_unload(self) -> None:
        self.loop.cancel()

    @commands.hybrid_command(name="schedule", description="Morning post in this channel")  # type: ignore[arg-type]  # discord.py's decorator typing
    @commands.guild_only()
    @commands.has_guild_permissions(manage_guild=True)
    async def schedule(
        self,
        ctx: commands.Context[Any],
        state: str = "on",
        at: str | None = None,
        tz: str | None = None,
    ) -> None:
        if state not in ("on", "off"):
            raise UserInputError("use `schedule on [HH:MM] [time zone]` or `schedule off`")
        settings = self.bot.settings
        entry = Schedule(
            channel_id=ctx.channel.id,
            guild_id=ctx.guild.id if ctx.guild else 0,
            at_time=parse_time(at or settings.discord_schedule_time),
            tz=parse_zone(tz or settings.discord_schedule_tz),
            enabled=state == "on",
        )
        self.bot.state_db.set_schedule(entry)
        if entry.enabled:
            await ctx.send(
                f"Morning post here at {entry.at_time:%H:%M} {entry.tz} on NYSE trading days. "
                f"Next: {self.next_post_text(ctx.channel.id)}."
            )
        else:
            await ctx.send("Morning post here is off.")

    def next_post_text(self, channel_id: int) -> str | None:
        entry = next((s for s in self.bot.state_db.schedules() if s.channel_id == channel_id), None)
        if entry is None or not entry.enabled:
            return None
        when = next_post(self.bot.clock(), entry, is_trading_day)
        return when.astimezone(ZoneInfo(entry.tz)).strftime("%Y-%m-%d %H:%M %Z") if when else None

    async def tick(self) -> int:
        """Make or complete the posts due now; returns how many were completed."""
        return await self.poster.tick()

    @tasks.loop(seconds=60)
    async def loop(self) -> None:
        try:
            await self.tick()
        except Exception:  # an error here would stop the loop, and every later post
            log.exception("the morning-post tick failed; trying again in a minute")

    @loop.before_loop
    async def _wait_ready(self) -> None:
        await self.bot.wait_until_ready()


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(ScheduleCog(bot))
