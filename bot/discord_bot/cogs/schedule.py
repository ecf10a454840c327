"""``schedule`` (Manage Server only) and the loop that makes the morning posts."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import discord
from discord.ext import commands, tasks

from bot.discord_bot.persist import Schedule
from bot.discord_bot.scheduler import decide, next_post
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
        self._missed_logged: set[tuple[int, dt.date]] = set()
        self._refreshed: set[dt.date] = set()

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
        """Make the posts that are due now; returns how many were sent."""
        from bot.discord_bot.cogs.forecast import send_forecast

        bot = self.bot
        now = bot.clock()
        grace = dt.timedelta(minutes=bot.settings.discord_grace_minutes)
        sent = 0
        for d in decide(
            now, bot.state_db.schedules(), bot.state_db.last_posts(), is_trading_day, grace
        ):
            key = (d.schedule.channel_id, d.day)
            if d.missed:
                if key not in self._missed_logged:
                    self._missed_logged.add(key)
                    log.warning(
                        "skipped the %s post in channel %s: its window passed while the bot "
                        "was down",
                        d.day,
                        d.schedule.channel_id,
                    )
                continue
            channel = bot.get_channel(d.schedule.channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                log.warning("scheduled channel %s is not reachable", d.schedule.channel_id)
                continue
            if not bot.state_db.claim_post(d.schedule.channel_id, d.day, now):
                continue
            await self._refresh(d.day)
            try:
                await send_forecast(bot, channel, channel.send)
                sent += 1
            except Exception:
                bot.state_db.release_post(d.schedule.channel_id, d.day)
                log.exception("scheduled post to channel %s failed", d.schedule.channel_id)
        return sent

    async def _refresh(self, day: dt.date) -> None:
        """Update the store before the post when the bot runs on it; never blocks a post."""
        bot = self.bot
        if bot.settings.discord_data_csv is not None or day in self._refreshed:
            return
        self._refreshed.add(day)
        try:
            report = await bot.run_blocking(bot.service.refresh_store, day)
        except Exception:
            log.exception("data refresh before the morning post failed")
            return
        if report is not None and not report.ok:
            log.warning("refresh before the morning post: %s source(s) failed", len(report.failed))

    @tasks.loop(seconds=60)
    async def loop(self) -> None:
        await self.tick()

    @loop.before_loop
    async def _wait_ready(self) -> None:
        await self.bot.wait_until_ready()


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(ScheduleCog(bot))
