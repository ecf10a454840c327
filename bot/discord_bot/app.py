"""The Discord bot: cogs loaded in ``setup_hook``, one error handler, no mass mentions.

Cogs stay thin (parse, call the service off the event loop, format, send). Blocking
work runs in the bot's own pool of worker threads, so requests waiting on a slow model
never starve other commands of threads; each request carries a deadline made when it
arrives (:meth:`AnalystBot.deadline`). Known errors (:class:`engine.errors.AnalystError`)
become a short reply (and give back the user's cooldown when the input was at fault);
a failed check says its own reason (server only, the user's missing permission, the
bot's missing permission); every such reply to a slash command is seen only by its user.
Anything else is logged with its traceback and the user gets a generic apology, never
the traceback.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import discord
from discord.ext import commands
from discord.ext.commands.context import DeferTyping

from bot.chart import ChartCache
from bot.discord_bot.guards import SORRY, cooldown_text, delete_placeholder, permission_name, safe
from bot.discord_bot.persist import BotState
from bot.discord_bot.refresh import StoreRefresher
from bot.narrator.deadline import Deadline
from bot.service import AnalystService, DataRequest
from bot.settings import Settings
from engine.errors import AnalystError, UserInputError

log = logging.getLogger(__name__)

T = TypeVar("T")

EXTENSIONS = (
    "bot.discord_bot.cogs.alerts",
    "bot.discord_bot.cogs.forecast",
    "bot.discord_bot.cogs.followup",
    "bot.discord_bot.cogs.info",
    "bot.discord_bot.cogs.schedule",
)

#: Worker threads for blocking work. Most of their time is spent waiting (on the model,
#: on SQLite), so more than the cores; each request is bounded by its deadline.
WORKERS = 16


class _Defer(DeferTyping[Any]):
    """``ctx.typing()`` for a slash command, deferring through :meth:`AnalystContext.defer`."""

    async def do_defer(self) -> None:
        interaction = self.ctx.interaction
        if interaction is not None and not interaction.response.is_done():
            await self.ctx.defer(ephemeral=self.ephemeral)


class AnalystContext(commands.Context[Any]):
    """A command's context that knows whether a slash command's public "thinking…"
    placeholder is still waiting for its first message (:attr:`placeholder`).

    Discord turns the first follow-up after a deferral into that placeholder, with the
    deferral's visibility: an error sent then would be seen by everyone, whatever its
    ``ephemeral`` flag, so the error handler removes the placeholder first.
    """

    placeholder: bool = False

    async def defer(self, *, ephemeral: bool = False) -> None:
        await super().defer(ephemeral=ephemeral)
        self.placeholder = self.interaction is not None and not ephemeral

    def typing(self, *, ephemeral: bool = False) -> Any:
        if self.interaction is None:
            return super().typing(ephemeral=ephemeral)
        return _Defer(self, ephemeral=ephemeral)

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        message = await super().send(*args, **kwargs)
        self.placeholder = False
        return message


class AnalystBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        service: AnalystService,
        *,
        state_db: BotState,
        charts: ChartCache,
        intents: discord.Intents | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        start_scheduler: bool = True,
        sync_commands: bool = True,
        start_chart_worker: bool = True,
    ) -> None:
        if intents is None:
            intents = discord.Intents.default()
            intents.message_content = True
        super().__init__(
            command_prefix=commands.when_mentioned_or(settings.discord_prefix),
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.settings = settings
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.service = service
        self.state_db = state_db
        self.charts = charts
        self.start_scheduler = start_scheduler
        self.sync_commands = sync_commands
        self.start_chart_worker = start_chart_worker
        #: The chart worker's start-up, begun in setup_hook (None when not started).
        self.chart_start: asyncio.Task[None] | None = None
        self._workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="discord-work")
        #: The store's refresh, one at a time (the morning post and the alert loop).
        self.refresher = StoreRefresher(self)

    async def setup_hook(self) -> None:
        from bot.discord_bot.buttons import ForecastButton

        for name in EXTENSIONS:
            await self.load_extension(name)
        # Buttons under forecasts posted before a restart keep working: their custom_id
        # carries the action and the as-of day (see bot.discord_bot.buttons).
        self.add_dynamic_items(ForecastButton)
        if self.start_chart_worker:
            # Started now, in the background while the bot logs in, so that the first
            # forecast does not wait for the worker's start-up (about 2 s).
            self.chart_start = asyncio.create_task(self._start_charts(), name="chart-worker")
        if self.sync_commands:
            # Registers the slash versions of the hybrid commands with Discord.
            synced = await self.tree.sync()
            log.info("synced %s slash commands", len(synced))

    async def _start_charts(self) -> None:
        started = time.monotonic()
        try:
            await asyncio.to_thread(self.charts.start)
        except Exception as exc:  # the first chart starts it again; forecasts go on
            log.warning("chart worker not started: %s: %s", type(exc).__name__, exc)
            return
        log.info("chart worker ready in %.1f s", time.monotonic() - started)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            # The chart worker goes with the bot (it would otherwise live until this
            # process ends); a start-up still under way finishes first.
            await asyncio.to_thread(self.charts.close)
            self._workers.shutdown(wait=False, cancel_futures=True)

    async def run_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run service work in a worker thread so the event loop keeps serving others."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._workers, call)

    def deadline(self) -> Deadline:
        """The deadline of a request arriving now (LLM_DEADLINE_SECONDS from now)."""
        return Deadline.after(self.settings.llm_deadline_seconds)

    def data_request(self) -> DataRequest:
        """The bot's data: DISCORD_DATA_CSV, else the store, else the demo."""
        if self.settings.discord_data_csv is not None:
            return DataRequest(csv=self.settings.discord_data_csv)
        return self.service.or_demo(DataRequest())[0]

    async def get_context(  # one context class for the bot
        self, origin: discord.Message | discord.Interaction[Any], /, *, cls: Any = None
    ) -> Any:
        return await super().get_context(origin, cls=cls or AnalystContext)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        await self.process_commands(message)

    async def on_command_error(
        self, ctx: commands.Context[Any], error: commands.CommandError
    ) -> None:
        original = getattr(error, "original", error)
        original = getattr(original, "original", original)
        if isinstance(error, commands.CommandNotFound):
            return
        if isinstance(original, UserInputError) and ctx.command is not None:
            ctx.command.reset_cooldown(ctx)  # bad input does not cost the user a turn
        text = self.error_text(ctx, error, original)
        if text is None:
            log.exception("command %s failed", ctx.command, exc_info=original)
            text = SORRY
        try:
            # Seen only by the user for a slash command; a plain reply for a prefix one.
            await self._drop_placeholder(ctx)
            await ctx.send(safe(text), ephemeral=True)
        except discord.HTTPException as exc:  # e.g. the bot may not send here at all
            log.warning("could not reply to %s in channel %s: HTTP %s", ctx.command,
                        getattr(ctx.channel, "id", None), exc.status)  # fmt: skip

    @staticmethod
    async def _drop_placeholder(ctx: commands.Context[Any]) -> None:
        """Delete a slash command's public placeholder that nothing has filled yet, so
        the error sent after it is a new, private message rather than that placeholder."""
        if ctx.interaction is None or not getattr(ctx, "placeholder", False):
            return
        if await delete_placeholder(ctx.interaction):
            ctx.placeholder = False  # type: ignore[attr-defined]

    @staticmethod
    def error_text(
        ctx: commands.Context[Any], error: commands.CommandError, original: BaseException
    ) -> str | None:
        """The reply for a known failure, with its real reason; None for the unknown."""
        name = ctx.command.qualified_name if ctx.command else "that command"
        if isinstance(original, AnalystError):
            return f"⚠️ {original}"
        if isinstance(error, commands.CommandOnCooldown):
            return cooldown_text(error.retry_after)
        if isinstance(error, commands.NoPrivateMessage):
            return f"🔒 `{name}` works only in a server channel, not in direct messages."
        if isinstance(error, commands.BotMissingPermissions):
            needed = " and ".join(permission_name(p) for p in error.missing_permissions)
            return (
                f"⚠️ I can't do that here: I need the {needed} permission in this channel. "
                "A server manager can grant it in the channel's settings."
            )
        if isinstance(error, commands.MissingPermissions):
            needed = " and ".join(permission_name(p) for p in error.missing_permissions)
            return f"🔒 `{name}` needs the {needed} permission."
        if isinstance(error, commands.CheckFailure):
            return f"🔒 You can't use `{name}` here."
        if isinstance(error, commands.UserInputError):
            usage = (
                f"{ctx.clean_prefix}{ctx.command.qualified_name} {ctx.command.signature}"
                if ctx.command
                else ""
            )
            return f"⚠️ {error} Usage: `{usage.strip()}`"
        return None
