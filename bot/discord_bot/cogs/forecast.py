"""``forecast`` and ``chart``."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.discord_bot.buttons import forecast_view
from bot.discord_bot.embeds import batches, report_embeds
from bot.discord_bot.guards import (
    COMMAND_OPTIONS,
    PostPermissions,
    bot_can,
    post_permissions,
    rate_limited,
)

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot
    from bot.narrator.deadline import Deadline
    from bot.narrator.models import Report
    from engine.state import MarketState

log = logging.getLogger(__name__)

#: The chart's name inside a forecast message (the embed shows ``attachment://`` it).
CHART_NAME = "chart.png"


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


def thread_name(state: MarketState) -> str:
    """'IWM 2026-07-02 · Neutral': the forecast's day and tomorrow's call."""
    return f"{state.ticker} {state.as_of} · {state.tomorrow.call}"[:100]


THREAD_INTRO = (
    "Ask follow-up questions about this forecast here: I answer each person separately "
    "and remember what you asked in this thread."
)


def with_chart(
    groups: list[list[discord.Embed]], png: bytes | None, perms: PostPermissions
) -> tuple[discord.File | None, str | None]:
    """Put the chart in the first message as its last embed's image.

    Returns the file to send with it, or a note saying why there is no chart.
    """
    if png is None:
        return None, chart_note("it could not be drawn (see the log)")
    if not perms.attach:
        return None, chart_note(NO_ATTACH)
    groups[0][-1].set_image(url=f"attachment://{CHART_NAME}")
    return discord.File(io.BytesIO(png), CHART_NAME), None


async def open_thread(
    message: discord.Message | discord.PartialMessage, name: str, perms: PostPermissions
) -> discord.Thread | None:
    """A thread on a forecast message for follow-ups, where one can be opened; else None.

    A DM, a thread or a missing permission means the conversation stays in place
    (replies to the forecast still work); nothing is said about it in the channel. The
    thread's id is its message's id, already remembered as a forecast, and follow-ups in
    it are recognised as the bot's own thread: nothing else is stored.
    """
    if not perms.threads:
        return None
    try:
        thread = await message.create_thread(name=name, auto_archive_duration=1440)
        await thread.send(THREAD_INTRO)
    except discord.HTTPException as exc:
        log.info("no thread on forecast %s: HTTP %s", message.id, exc.status)
        return None
    return thread


async def send_forecast(
    bot: AnalystBot, channel: discord.abc.Messageable, send: Any, deadline: Deadline
) -> discord.Message | None:
    """Send the forecast with ``send``: the report with the chart as its image and the
    buttons under it; open a thread on it for follow-ups; remember it.

    The chart is left out with a one-line note when it cannot be drawn, the bot may not
    attach files, or the upload fails; the report always goes out.
    """
    perms = post_permissions(channel)
    report, png = await bot.run_blocking(forecast_with_chart, bot, deadline)
    for operator_note in report.notes:
        log.info("forecast note: %s", operator_note)
    groups = batches(report_embeds(report))
    file, note = with_chart(groups, png, perms)
    first: discord.Message | None
    view = forecast_view(report.state.as_of)
    try:
        first = await send(embeds=groups[0], view=view, **({"file": file} if file else {}))
    except discord.HTTPException as exc:
        if file is None:
            raise
        log.warning("chart upload failed: HTTP %s %s", exc.status, exc.text[:100])
        groups[0][-1].set_image(url=None)
        note = chart_note(f"the upload failed (HTTP {exc.status})")
        first = await send(embeds=groups[0], view=view)
    for group in groups[1:]:
        await channel.send(embeds=group)
    if note is not None:
        await channel.send(note)
    if first is not None:
        bot.state_db.remember_forecast(first.id, first.channel.id, bot.clock())
        await open_thread(first, thread_name(report.state), perms)
    return first


class ForecastCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="forecast", description="IWM forecast for tomorrow and 5 days", **COMMAND_OPTIONS
    )
    @bot_can(embed=True)
    @rate_limited()
    async def forecast(self, ctx: commands.Context[Any]) -> None:
        deadline = self.bot.deadline()
        async with ctx.typing():
            await send_forecast(self.bot, ctx.channel, ctx.send, deadline)

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="chart", description="The IWM chart with signals, RSI, VIX", **COMMAND_OPTIONS
    )
    @bot_can(attach=True)
    @rate_limited()
    async def chart(self, ctx: commands.Context[Any]) -> None:
        async with ctx.typing():
            req = await self.bot.run_blocking(self.bot.data_request)
            prepared = await self.bot.run_blocking(self.bot.service.prepared, req)
            state = await self.bot.run_blocking(self.bot.service.state, req)
            png = await self.bot.run_blocking(self.bot.charts.get, prepared, state)
        await ctx.send(file=discord.File(io.BytesIO(png), "iwm-chart.png"))


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(ForecastCog(bot))
