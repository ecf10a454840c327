"""``alerts on|off|status`` and the loop that posts alerts (:mod:`bot.alerts`).

Opt-in per channel: Manage Server turns alerts on or off; anyone may see the status.
Each alert is one message, posted once per channel with the same exactly-once record as
the morning post (:class:`bot.discord_bot.persist.AlertRecords`): claimed before it is
sent, released when the send fails (retried at the next check, given up after
:data:`MAX_ATTEMPTS`), checked against the channel's recent messages when a claim is
resumed, so a message that reached Discord just before a crash is not sent twice. A
channel where the bot cannot send is skipped (logged once a day), never retried.

Checks run every :data:`CHECK_MINUTES` on NYSE trading days and at once after the
morning post refreshes the store (the ``store_refreshed`` event). When the bot runs on
its local store and some channel has alerts on, the loop also refreshes the store itself
once per NYSE session, from :data:`REFRESH_AFTER_CLOSE` after the close (16:15 New York,
earlier on half days), before it checks: a failed or partial refresh is tried again on
the next tick (at most :data:`REFRESH_ATTEMPTS` times), a complete one (or one with
nothing to refresh) is not repeated for that session. The refresh is the morning post's
(:class:`bot.discord_bot.refresh.StoreRefresher`), bounded by ``DISCORD_REFRESH_SECONDS``
and never run twice at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.alerts import LatestAlerts, alert_message, latest_alerts, opt_in_day
from bot.discord_bot.guards import post_permissions, safe
from bot.discord_bot.persist import AlertChannel, AlertClaim, LeaseLost
from bot.discord_bot.refresh import Refresh
from bot.discord_bot.scheduler import alerts_day
from bot.discord_bot.uncertain import CLOCK_SLACK, may_have_landed
from engine.alerts import AlertEvent
from engine.errors import AnalystError, UserInputError
from sources.calendar import is_trading_day, last_completed_session

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot

log = logging.getLogger(__name__)

CHECK_MINUTES = 5
#: Checks that may fail to send one alert before it is given up.
MAX_ATTEMPTS = 5
#: How long a claim keeps others off while one message is sent.
LEASE = dt.timedelta(minutes=2)
#: How far back the channel is read when a claim is resumed.
HISTORY_LIMIT = 50
#: How long after a session's close the loop refreshes the store (sources publish the
#: day's closes and option chains a little after 16:00).
REFRESH_AFTER_CLOSE = dt.timedelta(minutes=15)
#: Refreshes tried for one session (one per tick) before the loop waits for the next.
REFRESH_ATTEMPTS = 12


class AlertsCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot
        self.owner = uuid.uuid4().hex
        self._lock = asyncio.Lock()
        #: The latest session whose refresh by this loop ended (done or nothing to do).
        self._refreshed: dt.date | None = None
        #: Refreshes tried per session that did not end complete.
        self._attempts: dict[dt.date, int] = {}

    async def cog_load(self) -> None:
        if self.bot.start_scheduler:
            self.loop.start()

    async def cog_unload(self) -> None:
        self.loop.cancel()

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="alerts", description="Alerts in this channel: on, off or status (Manage Server)"
    )
    @commands.guild_only()
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(
        state="on: post alerts here; off: stop; status (the default): the setting and "
        "the latest alerts"
    )
    @app_commands.choices(
        state=[
            app_commands.Choice(name="on", value="on"),
            app_commands.Choice(name="off", value="off"),
            app_commands.Choice(name="status", value="status"),
        ]
    )
    async def alerts(self, ctx: commands.Context[Any], state: str = "status") -> None:
        """Status for anyone (the slash command is shown to managers by default; members
        also see the setting in ``status``); on/off need Manage Server, and turning
        alerts on needs the bot's own Send Messages here."""
        state = state.strip().lower()
        if state not in ("on", "off", "status"):
            raise UserInputError("use `alerts on`, `alerts off` or `alerts status`")
        if state == "status":
            await ctx.send(safe(self.status_text(ctx.channel.id)), ephemeral=True)
            return
        if not ctx.permissions.manage_guild:
            raise commands.MissingPermissions(["manage_guild"])
        if state == "on":
            perms = post_permissions(ctx.channel)
            if not perms.send:
                raise commands.BotMissingPermissions([perms.send_name])
        since = opt_in_day(self.bot.clock())
        guild_id = ctx.guild.id if ctx.guild else 0
        entry = self.bot.state_db.alerts.set_channel(
            ctx.channel.id, guild_id, state == "on", since, self.bot.clock()
        )
        if entry.enabled:
            await ctx.send(
                "🔔 Alerts are on here: a Tier 1 rule starting to fire, IWM's own GEX "
                "changing sign, VIX crossing the high-VIX threshold "
                f"({self.bot.settings.engine_params.high_vix:g}), and the close crossing "
                f"the call wall, put wall or gamma flip. From the {entry.since} session "
                "on; nothing older is replayed."
            )
        else:
            await ctx.send("🔕 Alerts are off here.")

    def summary(self, channel_id: int) -> str:
        """One line for ``status``: whether alerts are on in this channel."""
        entry = self.bot.state_db.alerts.channel(channel_id)
        if entry is None or not entry.enabled:
            return "off"
        return f"on, from the {entry.since} session"

    def status_text(self, channel_id: int) -> str:
        records = self.bot.state_db.alerts
        entry = records.channel(channel_id)
        if entry is None or not entry.enabled:
            return (
                "🔕 Alerts are off here. Someone with Manage Server can turn them on with "
                "`alerts on`."
            )
        lines = [f"🔔 Alerts are on here, from the {entry.since} session."]
        recent = records.delivered(channel_id, limit=3)
        if recent:
            lines.append("Latest:")
            lines += [f"• {day}: {key}" for day, key, _ in recent]
        else:
            lines.append("None posted yet.")
        return "\n".join(lines)

    # --- checking and posting ----------------------------------------------------------
    async def check(self) -> int:
        """Post the alerts of the latest session not posted yet; returns how many."""
        if not self.bot.state_db.alerts.channels():
            return 0
        async with self._lock:  # the loop and a refresh never post the same alert together
            try:
                # Both in a worker: after a refresh the request rebuilds the dataset.
                request = await self.bot.run_blocking(self.bot.data_request)
                found: LatestAlerts = await self.bot.run_blocking(
                    latest_alerts, self.bot.service, request
                )
            except AnalystError as exc:
                log.warning("alerts not checked: %s", exc)
                return 0
            if not found.events:
                if found.reason:
                    log.debug("no alerts: %s", found.reason)
                return 0
            posted = 0
            for entry in self.bot.state_db.alerts.channels():
                for event in found.events:
                    if event.as_of < entry.since:
                        continue
                    try:
                        posted += await self._post(entry, event)
                    except LeaseLost as exc:
                        log.warning("%s", exc)
            return posted

    async def _post(self, entry: AlertChannel, event: AlertEvent) -> int:
        bot, records = self.bot, self.bot.state_db.alerts
        now = bot.clock()
        channel = bot.get_channel(entry.channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            if bot.state_db.note_once(entry.channel_id, event.as_of, "alerts-unreachable", now):
                log.warning("alert channel %s is not reachable", entry.channel_id)
            return 0
        perms = post_permissions(channel)
        if not perms.send:
            if bot.state_db.note_once(entry.channel_id, event.as_of, "alerts-permissions", now):
                log.warning(
                    "cannot post alerts in channel %s: missing Send Messages", entry.channel_id
                )
            return 0
        content = safe(alert_message(event, bot.settings.ticker))
        claim = records.claim(
            entry.channel_id, event.as_of, event.key, content, self.owner, now, LEASE
        )
        if claim is None:
            return 0
        if claim.resumed and perms.history and await self._already_sent(channel, claim):
            return 0
        try:
            message = await channel.send(claim.content)
        except Exception as exc:  # the next check retries; no half-post exists
            # The last attempt is given up below, by this owner: no retry reads history.
            last = claim.attempts + 1 >= MAX_ATTEMPTS
            uncertain = may_have_landed(exc) and not last
            attempts = records.release(claim, bot.clock(), uncertain=uncertain)
            log.warning(
                "alert %s to channel %s failed (attempt %s of %s): %s: %s",
                claim.key,
                claim.channel_id,
                attempts,
                MAX_ATTEMPTS,
                type(exc).__name__,
                exc,
            )
            if attempts >= MAX_ATTEMPTS:
                records.give_up(claim)
                log.error("gave up alert %s in channel %s", claim.key, claim.channel_id)
            return 0
        records.mark_delivered(claim, message.id)
        return 1

    async def _already_sent(self, channel: Any, claim: AlertClaim) -> bool:
        """True (and recorded) when the alert is among the bot's messages since its claim."""
        me = self.bot.user
        if me is None:
            return False
        try:
            async for m in channel.history(limit=HISTORY_LIMIT):
                # A host clock ahead of Discord's would hide a message sent just now.
                mine = m.author.id == me.id and m.created_at >= claim.claimed_at - CLOCK_SLACK
                if mine and m.content == claim.content:
                    log.info("alert %s was already in channel %s", claim.key, claim.channel_id)
                    self.bot.state_db.alerts.mark_delivered(claim, m.id)
                    return True
        except discord.HTTPException as exc:  # cannot tell: sending beats staying silent
            log.warning("could not read channel %s: HTTP %s", claim.channel_id, exc.status)
        return False

    @commands.Cog.listener()
    async def on_store_refreshed(self) -> None:
        try:
            await self.check()
        except Exception:
            log.exception("the alert check after a refresh failed")

    async def refresh(self) -> Refresh | None:
        """Refresh the store for the latest session closed :data:`REFRESH_AFTER_CLOSE`
        ago, unless done already or no channel has alerts on; None when nothing was tried."""
        bot = self.bot
        if bot.settings.discord_data_csv is not None or not bot.state_db.alerts.channels():
            return None
        session = last_completed_session(bot.clock() - REFRESH_AFTER_CLOSE)
        if self._refreshed is not None and session <= self._refreshed:
            return None
        outcome = await bot.refresher.run(session, f"for the alerts of {session}")
        attempts = self._attempts.pop(session, 0) + 1
        if outcome in (Refresh.DONE, Refresh.SKIPPED):
            self._refreshed = session
        elif attempts >= REFRESH_ATTEMPTS:
            self._refreshed = session
            log.warning("gave up refreshing for the alerts of %s after %s tries", session, attempts)
        else:  # a failed or partial one is tried on the next tick
            self._attempts = {session: attempts}
        return outcome

    async def tick(self) -> int:
        """One tick of the loop: on an NYSE trading day, refresh when due, then check."""
        if alerts_day(self.bot.clock(), is_trading_day) is None:
            return 0
        await self.refresh()
        return await self.check()

    @tasks.loop(minutes=CHECK_MINUTES)
    async def loop(self) -> None:
        try:
            await self.tick()
        except Exception:  # an error here would stop the loop, and every later alert
            log.exception("the alert check failed; trying again in %s minutes", CHECK_MINUTES)

    @loop.before_loop
    async def _wait_ready(self) -> None:
        await self.bot.wait_until_ready()


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(AlertsCog(bot))
