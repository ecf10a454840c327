"""The morning post, delivered exactly once per channel and NYSE day.

A post is one unit (:class:`~bot.discord_bot.persist.PostUnit`): the report embeds and a
compact block of tomorrow's range and levels in one or more messages, the first with
the forecast's buttons and the chart as its last embed's image (``attachment://``), or
a one-line note under the heading in its place; once delivered, a thread is opened on
the first message for follow-ups where the bot may. The chart belongs to the first
part, so it is sent, recorded and checked after a crash with that message: an upload
Discord refuses (a 4xx such as 413 too large) never holds back the report (the same
part goes out at once without the image, with the note); an upload that fails on a 5xx
or a timeout may have been posted, so it is treated as an uncertain send (below).
For each due channel, :meth:`MorningPoster.tick`:

1. checks the bot's permissions first: without Send Messages nothing can be said (the
   log says so once a day); without Embed Links the channel is told once a day and the
   post waits (it goes out if the permission arrives within the window); without
   Attach Files the post goes out with a note in the image's place;
2. takes the unit's lease (a crash leaves a lease that expires, so the post is still
   made within the window; a second process never posts the same unit);
3. prepares the parts once (refresh of the store, bounded by DISCORD_REFRESH_SECONDS;
   forecast and chart, bounded by LLM_DEADLINE_SECONDS) and stores them before sending;
4. sends the parts not yet delivered, recording each message id as it goes: a failure
   leaves the unit to be completed on the next tick, never repeated; a chart that
   cannot be uploaded becomes a note in the same message; after :data:`MAX_ATTEMPTS`
   failed ticks the unit is given up and logged;
5. marks the unit delivered.

A unit found mid-delivery after a crash, or after a send that may have landed (a
timeout, a dropped connection, a Discord 5xx: the same process retries it), is checked
against the channel's recent messages first (when the bot may read them, with
:data:`~bot.discord_bot.uncertain.CLOCK_SLACK` for a host clock ahead of Discord's), so
a part that reached Discord is not sent twice. A post that could not start within the
window is skipped and logged once; a partial delivery is completed even after the window.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import uuid
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_bot.buttons import forecast_view
from bot.discord_bot.cogs.forecast import (
    CHART_NAME,
    NO_ATTACH,
    chart_note,
    forecast_with_chart,
    open_thread,
    thread_name,
)
from bot.discord_bot.embeds import COLOURS, batches, report_embeds
from bot.discord_bot.guards import PostPermissions, post_permissions
from bot.discord_bot.persist import LeaseLost, PostUnit
from bot.discord_bot.refresh import Refresh
from bot.discord_bot.scheduler import Decision, decide
from bot.discord_bot.uncertain import CLOCK_SLACK, may_have_landed
from bot.views.levels import levels_block
from sources.calendar import is_trading_day

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot

log = logging.getLogger(__name__)

#: Ticks that may fail to deliver a unit before it is given up.
MAX_ATTEMPTS = 5
#: Extra lease beyond the refresh and model deadlines, for sending the messages.
LEASE_MARGIN = dt.timedelta(minutes=2)
#: How far back the channel is read when resuming a delivery after a crash.
HISTORY_LIMIT = 50


def morning_heading(day: dt.date) -> str:
    return f"☀️ Morning forecast for {day:%a %d %b %Y}"


class MorningPoster:
    """Makes the due morning posts; one instance per running bot (its lease owner id)."""

    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot
        self.owner = uuid.uuid4().hex
        self._refreshed: set[dt.date] = set()

    @property
    def lease(self) -> dt.timedelta:
        s = self.bot.settings
        seconds = s.discord_refresh_seconds + s.llm_deadline_seconds
        return dt.timedelta(seconds=seconds) + LEASE_MARGIN

    async def tick(self) -> int:
        """Make or complete the posts that are due now; returns how many were completed."""
        bot = self.bot
        now = bot.clock()
        grace = dt.timedelta(minutes=bot.settings.discord_grace_minutes)
        done = 0
        for d in decide(
            now, bot.state_db.schedules(), bot.state_db.last_posts(), is_trading_day, grace
        ):
            try:
                done += await self._one(d, now)
            except LeaseLost:
                log.warning(
                    "the %s post in channel %s was taken over", d.day, d.schedule.channel_id
                )
        return done

    async def _one(self, d: Decision, now: dt.datetime) -> int:
        bot, channel_id, day = self.bot, d.schedule.channel_id, d.day
        existing = bot.state_db.post(channel_id, day)
        if d.missed and (existing is None or not existing.sent):
            if existing is None or existing.lease_until <= now or existing.owner == self.owner:
                bot.state_db.mark_missed(channel_id, day, now)
                log.warning(
                    "skipped the %s post in channel %s: its window passed before it could be made",
                    day,
                    channel_id,
                )
            return 0
        channel = bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            if bot.state_db.note_once(channel_id, day, "unreachable", now):
                log.warning("scheduled channel %s is not reachable", channel_id)
            return 0
        perms = post_permissions(channel)
        if perms.missing:
            await self._report_missing(channel, channel_id, day, perms, now)
            return 0
        unit = bot.state_db.claim_post(
            channel_id, day, self.owner, now, self.lease, new=not d.missed
        )
        if unit is None:
            return 0
        # Our last send may have landed (released as uncertain), or another process held
        # the unit (it may have died mid-send): either way the channel is read first.
        # (An uncertain release stores the owner with the UNCERTAIN prefix, so it differs.)
        read_first = existing is not None and existing.owner != self.owner
        try:
            if unit.parts is None:
                unit = await self._prepare(unit, perms)
            elif read_first and perms.history:
                await self._reconcile(channel, unit)
            await self._deliver(channel, unit)
        except LeaseLost:
            raise
        except Exception as exc:  # the next tick completes what is missing
            attempts = unit.attempts + 1
            # The last attempt is given up below, by this owner: no retry reads history.
            uncertain = may_have_landed(exc) and attempts < MAX_ATTEMPTS
            bot.state_db.release_post(unit, self.owner, bot.clock(), uncertain=uncertain)
            log.warning(
                "morning post to channel %s failed (attempt %s of %s): %s: %s",
                channel_id,
                attempts,
                MAX_ATTEMPTS,
                type(exc).__name__,
                exc,
            )
            log.debug("morning post failure", exc_info=True)
            if attempts >= MAX_ATTEMPTS:
                bot.state_db.settle_post(unit, self.owner, "failed")
                log.error(
                    "gave up the %s post in channel %s after %s attempts", day, channel_id, attempts
                )
            return 0
        bot.state_db.settle_post(unit, self.owner, "delivered")
        first = unit.sent.get(0)
        if first is not None:
            bot.state_db.remember_forecast(first, channel_id, bot.clock())
            name = unit.parts[0].get("thread") if unit.parts else None
            if name and hasattr(channel, "get_partial_message"):  # a thread for follow-ups
                await open_thread(channel.get_partial_message(first), name, perms)
        return 1

    async def _report_missing(
        self, channel: Any, channel_id: int, day: dt.date, perms: PostPermissions, now: dt.datetime
    ) -> None:
        if not self.bot.state_db.note_once(channel_id, day, "permissions", now):
            return
        missing = " and ".join(perms.missing)
        log.warning("cannot make the %s post in channel %s: missing %s", day, channel_id, missing)
        if perms.send:
            try:
                await channel.send(
                    f"⚠️ I can't make the morning forecast here: I need the {missing} "
                    "permission in this channel. It goes out as soon as it is granted (today "
                    "within the posting window)."
                )
            except discord.HTTPException as exc:
                log.warning("could not tell channel %s: HTTP %s", channel_id, exc.status)

    async def _refresh(self, day: dt.date) -> None:
        """Update the store before the first post of the day; bounded, never blocking."""
        if day in self._refreshed:
            return
        self._refreshed.add(day)
        outcome = await self.bot.refresher.run(day, "before the morning post")
        if outcome in (Refresh.DONE, Refresh.PARTIAL):
            self.bot.dispatch("store_refreshed")  # alerts are checked on the new data

    async def _prepare(self, unit: PostUnit, perms: PostPermissions) -> PostUnit:
        """Build the parts once and store them before anything is sent."""
        bot = self.bot
        await self._refresh(unit.day)
        report, png = await bot.run_blocking(forecast_with_chart, bot, bot.deadline())
        parts: list[dict[str, Any]] = []
        levels = discord.Embed(
            title="Levels for the next session",
            description=levels_block(report.state),
            colour=COLOURS["Neutral"],
        )
        groups = batches([*report_embeds(report), levels])
        if png is not None and perms.attach:
            groups[0][-1].set_image(url=f"attachment://{CHART_NAME}")
        for i, group in enumerate(groups):
            part: dict[str, Any] = {"kind": "embeds", "embeds": [e.to_dict() for e in group]}
            if i == 0:
                part["content"] = morning_heading(unit.day)
                part["day"] = report.state.as_of.isoformat()  # the buttons' day
                part["thread"] = thread_name(report.state)
                if png is None:
                    part["note"] = chart_note("it could not be drawn")
                elif not perms.attach:
                    part["note"] = chart_note(NO_ATTACH)
                else:
                    part["file"] = CHART_NAME
            parts.append(part)
        lease_until = bot.clock() + self.lease
        return bot.state_db.save_parts(unit, self.owner, parts, png, lease_until)

    async def _send(
        self, channel: discord.abc.Messageable, unit: PostUnit, part: dict[str, Any]
    ) -> discord.Message:
        if part["kind"] == "embeds":
            embeds = [discord.Embed.from_dict(e) for e in part["embeds"]]
            extra: dict[str, Any] = {}
            if part.get("day"):
                extra["view"] = forecast_view(dt.date.fromisoformat(part["day"]))
            note: str | None = part.get("note")
            if part.get("file"):
                if unit.chart is not None:
                    file = discord.File(io.BytesIO(unit.chart), part["file"])
                    try:
                        return await channel.send(
                            content=part.get("content"), embeds=embeds, file=file, **extra
                        )
                    except discord.HTTPException as exc:
                        # A 5xx may follow a posted message: raise, and the next attempt
                        # reads the channel first (see _one). On the last attempt the post
                        # goes out without its image rather than not at all.
                        if may_have_landed(exc) and unit.attempts + 1 < MAX_ATTEMPTS:
                            raise
                        # A refusal (413 too large, 403): the same part, without the image.
                        log.warning("morning chart upload failed: HTTP %s", exc.status)
                        note = chart_note(f"the upload failed (HTTP {exc.status})")
                else:
                    note = chart_note("it could not be drawn")
                embeds[-1].set_image(url=None)
            content = "\n".join(t for t in (part.get("content"), note) if t)
            return await channel.send(content=content or None, embeds=embeds, **extra)
        if part["kind"] == "chart":  # a post prepared by an earlier version, as it was
            if unit.chart is None:
                return await channel.send(chart_note("it could not be drawn"))
            try:
                file = discord.File(io.BytesIO(unit.chart), part["filename"])
                return await channel.send(file=file)
            except discord.HTTPException as exc:
                if may_have_landed(exc):
                    raise
                log.warning("morning chart upload failed: HTTP %s", exc.status)
                return await channel.send(chart_note(f"the upload failed (HTTP {exc.status})"))
        return await channel.send(part["content"])

    async def _deliver(self, channel: Any, unit: PostUnit) -> None:
        assert unit.parts is not None
        for index, part in enumerate(unit.parts):
            if index in unit.sent:
                continue
            message = await self._send(channel, unit, part)
            self.bot.state_db.record_part(
                unit, self.owner, index, message.id, self.bot.clock() + self.lease
            )

    async def _reconcile(self, channel: Any, unit: PostUnit) -> None:
        """Record parts that reached the channel before a crash could record them.

        The bot's own messages after the claim are read oldest first; the message after
        the last recorded part (or the first one with the morning heading) must be the
        next part, and so on until one does not match.
        """
        me = self.bot.user
        assert unit.parts is not None and me is not None
        mine = [
            m
            async for m in channel.history(limit=HISTORY_LIMIT)
            # A host clock ahead of Discord's would hide a message sent just now.
            if m.author.id == me.id and m.created_at >= unit.claimed_at - CLOCK_SLACK
        ]
        mine.sort(key=lambda m: m.id)
        recorded = set(unit.sent.values())
        if unit.sent:
            last = max(unit.sent.values())
            later = [m for m in mine if m.id > last]
        else:
            heading = morning_heading(unit.day)
            start = next(
                (i for i, m in enumerate(mine) if (m.content or "").startswith(heading)), None
            )
            later = mine[start:] if start is not None else []
        index = next((i for i in range(len(unit.parts)) if i not in unit.sent), None)
        for message in later:
            if index is None or message.id in recorded:
                break
            if not _matches(message, unit.parts[index]):
                break
            log.info("part %s of the %s post was already delivered", index, unit.day)
            self.bot.state_db.record_part(
                unit, self.owner, index, message.id, self.bot.clock() + self.lease
            )
            index = next((i for i in range(index + 1, len(unit.parts)) if i not in unit.sent), None)


def _matches(message: discord.Message, part: dict[str, Any]) -> bool:
    if part["kind"] == "embeds":
        want = part["embeds"][0].get("description")
        return bool(message.embeds) and message.embeds[0].description == want
    if part["kind"] == "chart":
        names = {a.filename for a in message.attachments}
        return part["filename"] in names or message.content.startswith("📉")
    return bool(message.content == part["content"])
