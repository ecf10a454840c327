"""``forecast`` and ``chart``."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.discord_bot.embeds import batches, report_embeds
from bot.discord_bot.guards import COMMAND_OPTIONS, PostPermissions, post_permissions, rate_limited

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot
    from bot.narrator.deadline import Deadline
    from bot.narrator.models import Report

log = logging.getLogger(__name__)

CHART_FILE = "iwm-forecast.png"


def chart_note(reason: str) -> str:
    return f"📉 The chart is not attached: {reason}."


NO_ATTACH = "I need the Attach Files permission in this channel"


def forecast_with_chart(bot: AnalystBot, deadline: Deadline) -> tuple[Report, bytes | None]:
    """The report and its chart (runs in a worker thread), narrated by ``deadline``.

    The chart is drawn first, so its time comes out of the deadline rather than on top
    of it; a chart that cannot be drawn is left out (None), never a failed forecast.
    """
    req = bot.data_request()
    png: bytes | None = None
    try:
        png = bot.charts.get(bot.service.prepared(req), bot.service.state(req))
    except Exception as exc:  # the report matters more than its chart
        log.warning("chart not drawn: %s: %s", type(exc).__name__, exc)
        log.debug("chart failure", exc_info=True)
    report = bot.service.forecast(req, source="discord", deadline=deadline)
    return report, png


async def send_chart(
    channel: discord.abc.Messageable,
    png: bytes | None,
    perms: PostPermissions,
    filename: str = CHART_FILE,
) -> discord.Message:
    """The chart, or a one-line note saying why it is missing (a chart never fails a post)."""
    if png is None:
        return await channel.send(chart_note("it could not be drawn (see the log)"))
    if not perms.attach:
        return await channel.send(chart_note(NO_ATTACH))
    try:
        return await channel.send(file=discord.File(io.BytesIO(png), filename))
    except discord.HTTPException as exc:
        log.warning("chart upload failed: HTTP %s %s", exc.status, exc.text[:100])
        return await channel.send(chart_note(f"the upload failed (HTTP {exc.status})"))


async def send_forecast(
    bot: AnalystBot, channel: discord.abc.Messageable, send: Any, deadline: Deadline
) -> None:
    """Send the forecast (embeds, then the chart) with ``send``; remember it for follow-ups.

    The chart goes in its own message after the text so the report reads first.
    """
    perms = post_permissions(channel)
    report, png = await bot.run_blocking(forecast_with_chart, bot, deadline)
    groups = batches(report_embeds(report))
    first = await send(embeds=groups[0])
    for group in groups[1:]:
        await channel.send(embeds=group)
    await send_chart(channel, png, perms)
    if first is not None:
        bot.state_db.remember_forecast(first.id, first.channel.id, bot.clock())


class ForecastCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="forecast", description="IWM forecast for tomorrow and 5 days", **COMMAND_OPTIONS
    )
    @rate_limited()
    async def forecast(self, ctx: commands.Context[Any]) -> None:
        deadline = self.bot.deadline()
        async with ctx.typing():
            await send_forecast(self.bot, ctx.channel, ctx.send, deadline)

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="chart", description="The IWM chart with signals, RSI, VIX", **COMMAND_OPTIONS
    )
    @rate_limited()
    async def chart(self, ctx: commands.Context[Any]) -> None:
        perms = post_permissions(ctx.channel)
        if not perms.attach:
            await ctx.send(chart_note(NO_ATTACH))
            return
        async with ctx.typing():
            req = await self.bot.run_blocking(self.bot.data_request)
            prepared = await self.bot.run_blocking(self.bot.service.prepared, req)
            state = await self.bot.run_blocking(self.bot.service.state, req)
            png = await self.bot.run_blocking(self.bot.charts.get, prepared, state)
        await ctx.send(file=discord.File(io.BytesIO(png), "iwm-chart.png"))


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(ForecastCog(bot))
