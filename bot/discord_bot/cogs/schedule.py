"""``schedule`` (Manage Server only) and the loop that makes the morning posts
(:mod:`bot.discord_bot.posting`).

``schedule`` with no argument shows this channel's setting; ``on``/``off`` change it.
Time zones are IANA names (``America/New_York``): fixed abbreviations such as EST are
refused, since they do not follow daylight saving and the post would move by an hour.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.discord_bot.guards import managers_only, post_permissions
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


#: Abbreviations and fixed-offset zones people type, and the place they usually mean.
ZONE_HINTS = {
    "EST": "America/New_York", "EDT": "America/New_York", "EST5EDT": "America/New_York",
    "ET": "America/New_York", "CST": "America/Chicago", "CDT": "America/Chicago",
    "CST6CDT": "America/Chicago", "MST": "America/Denver", "MDT": "America/Denver",
    "MST7MDT": "America/Denver", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
    "PST8PDT": "America/Los_Angeles", "HST": "Pacific/Honolulu", "GMT": "Europe/London",
    "BST": "Europe/London", "WET": "Europe/Lisbon", "CET": "Europe/Berlin",
    "MET": "Europe/Berlin", "EET": "Europe/Athens",
}  # fmt: skip
#: Zone names that are not places but still follow no daylight saving on purpose.
UTC_NAMES = ("UTC", "Etc/UTC")


@cache
def zone_names() -> tuple[str, ...]:
    """IANA place names (Region/City) and UTC, sorted: what ``schedule`` accepts."""
    places = (
        z
        for z in available_timezones()
        if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/")) and z != "localtime"
    )
    return (*UTC_NAMES, *sorted(places))


def parse_zone(text: str) -> str:
    """An IANA time zone as typed (case-insensitive), or a UserInputError with a hint."""
    name = text.strip()
    hint = ZONE_HINTS.get(name.upper())
    if hint is not None:
        raise UserInputError(
            f"'{name[:20]}' is an abbreviation, not a place's time zone (EST, for one, never "
            f"changes for daylight saving); use {hint}"
        )
    if "/" not in name and name.upper() not in UTC_NAMES:
        raise UserInputError(f"'{name[:40]}' is not a time zone; use a name like America/New_York")
    match = next((z for z in zone_names() if z.lower() == name.lower()), None)
    try:
        ZoneInfo(match or name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(
            f"'{name[:40]}' is not a time zone; use a name like America/New_York"
        ) from None
    return match or name


def zone_choices(current: str, limit: int = 25) -> list[str]:
    """Zone names for autocomplete: those starting with what was typed (by city too),
    then those containing it."""
    typed = current.strip().lower().replace(" ", "_")
    if not typed:
        return ["America/New_York", "America/Chicago", "Europe/London", "UTC"][:limit]
    starts = [z for z in zone_names() if z.lower().startswith(typed)]
    city = [z for z in zone_names() if z.lower().rsplit("/", 1)[-1].startswith(typed)]
    inside = [z for z in zone_names() if typed in z.lower()]
    out: list[str] = []
    for z in (*starts, *city, *inside):
        if z not in out:
            out.append(z)
    return out[:limit]


class ScheduleCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot
        self.poster = MorningPoster(bot)

    async def cog_load(self) -> None:
        if self.bot.start_scheduler:
            self.loop.start()

    async def cog_unload(self) -> None:
        self.loop.cancel()

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="schedule", description="The morning forecast in this channel (Manage Server)"
    )
    @managers_only()
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(
        state="on: post every NYSE trading day; off: stop. Leave empty to see the setting",
        at="Local time of the post, HH:MM (24 h), e.g. 08:30",
        tz="IANA time zone, e.g. America/New_York (start typing a city)",
    )
    @app_commands.choices(
        state=[
            app_commands.Choice(name="on", value="on"),
            app_commands.Choice(name="off", value="off"),
        ]
    )
    async def schedule(
        self,
        ctx: commands.Context[Any],
        state: str | None = None,
        at: str | None = None,
        tz: str | None = None,
    ) -> None:
        if state is None:
            await ctx.send(self.setting_text(ctx.channel.id), ephemeral=True)
            return
        state = state.strip().lower()
        if state not in ("on", "off"):
            raise UserInputError(
                "use `schedule on [HH:MM] [time zone]`, `schedule off` or `schedule`"
            )
        settings = self.bot.settings
        current = self.current(ctx.channel.id)
        entry = Schedule(
            channel_id=ctx.channel.id,
            guild_id=ctx.guild.id if ctx.guild else 0,
            at_time=parse_time(at)
            if at
            else (current.at_time if current else parse_time(settings.discord_schedule_time)),
            tz=parse_zone(tz)
            if tz
            else (current.tz if current else parse_zone(settings.discord_schedule_tz)),
            enabled=state == "on",
        )
        if entry.enabled:
            missing = post_permissions(ctx.channel).missing
            if missing:
                raise commands.BotMissingPermissions(missing)
        self.bot.state_db.set_schedule(entry)
        if entry.enabled:
            await ctx.send(
                f"Morning post here at {entry.at_time:%H:%M} {entry.tz} on NYSE trading days. "
                f"Next: {self.next_post_text(ctx.channel.id)}."
            )
        else:
            await ctx.send("Morning post here is off.")

    @schedule.autocomplete("tz")
    async def tz_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in zone_choices(current)]

    def current(self, channel_id: int) -> Schedule | None:
        return next((s for s in self.bot.state_db.schedules() if s.channel_id == channel_id), None)

    def setting_text(self, channel_id: int) -> str:
        """This channel's morning post as it is set (nothing is changed)."""
        entry = self.current(channel_id)
        if entry is None:
            return "No morning post is set here. Turn it on with `schedule on [HH:MM] [time zone]`."
        if not entry.enabled:
            return (
                f"The morning post here is off (last set to {entry.at_time:%H:%M} {entry.tz}). "
                "Turn it on with `schedule on`."
            )
        return (
            f"Morning post here at {entry.at_time:%H:%M} {entry.tz} on NYSE trading days. "
            f"Next: {self.next_post_text(channel_id)}."
        )

    def next_post_text(self, channel_id: int) -> str | None:
        entry = self.current(channel_id)
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
