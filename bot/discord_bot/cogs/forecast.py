"""``forecast`` and ``chart``."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.discord_bot.embeds import batches, report_embeds

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot
    from bot.narrator.models import Report


def _cooldown(ctx: commands.Context[Any]) -> commands.Cooldown | None:
    seconds = ctx.bot.settings.discord_cooldown_seconds
    return commands.Cooldown(1, seconds) if seconds > 0 else None


def forecast_with_chart(bot: AnalystBot) -> tuple[Report, bytes]:
    """The report and its chart (runs in a worker thread)."""
    req = bot.data_request()
    report = bot.service.forecast(req, source="discord")
    return report, bot.charts.get(bot.service.prepared(req), report.state)


async def send_forecast(bot: AnalystBot, channel: discord.abc.Messageable, send: Any) -> None:
    """Send the forecast (embeds, then the chart) with ``send``; remember it for follow-ups.

    The chart goes in its own message after the text so the report reads first.
    """
    report, png = await bot.run_blocking(forecast_with_chart, bot)
    groups = batches(report_embeds(report))
    first = await send(embeds=groups[0])
    for group in groups[1:]:
        await channel.send(embeds=group)
    await channel.send(file=discord.File(io.BytesIO(png), "iwm-forecast.png"))
    if first is not None:
        bot.state_db.remember_forecast(first.id, first.channel.id, bot.clock())


class ForecastCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot

    @commands.hybrid_command(name="forecast", description="IWM forecast for tomorrow and 5 days")  # type: ignore[arg-type]  # discord.py's decorator typing
    @commands.dynamic_cooldown(_cooldown, commands.BucketType.user)
    async def forecast(self, ctx: commands.Context[Any]) -> None:
        async with ctx.typing():
            await send_forecast(self.bot, ctx.channel, ctx.send)

    @commands.hybrid_command(name="chart", description="The IWM chart with signals, RSI, VIX")  # type: ignore[arg-type]  # discord.py's decorator typing
    async def chart(self, ctx: commands.Context[Any]) -> None:
        async with ctx.typing():
            req = await self.bot.run_blocking(self.bot.data_request)
            prepared = await self.bot.run_blocking(self.bot.service.prepared, req)
            state = await self.bot.run_blocking(self.bot.service.state, req)
            png = await self.bot.run_blocking(self.bot.charts.get, prepared, state)
        await ctx.send(file=discord.File(io.BytesIO(png), "iwm-chart.png"))


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(ForecastCog(bot))
