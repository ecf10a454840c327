"""Morning posts exactly once per channel and NYSE day, whatever fails and whenever.

Each scenario ticks the poster every minute of the posting window (08:30-10:00 New
York on Friday 2026-01-02) through dpytest and counts what reached the channel.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio

import bot.discord_bot.posting as posting_module
import bot.discord_bot.refresh as refresh_module
from bot.discord_bot.app import AnalystBot
from bot.discord_bot.persist import BotState, Schedule
from bot.discord_bot.posting import MorningPoster
from bot.settings import load_settings
from tests.bot.test_discord import sent, start_bot

NY = ZoneInfo("America/New_York")
DAY = dt.date(2026, 1, 2)


def ny(hh: int, mm: int) -> dt.datetime:
    return dt.datetime(2026, 1, 2, hh, mm, tzinfo=NY).astimezone(dt.UTC)


class _Response:
    status = 403
    reason = "Forbidden"


class _Unavailable:
    status = 503
    reason = "Service Unavailable"


@pytest_asyncio.fixture
async def bot() -> AsyncIterator[AnalystBot]:
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=0))
    channel = dpytest.get_config().channels[0]
    client.state_db.set_schedule(
        Schedule(channel.id, channel.guild.id, dt.time(8, 30), "America/New_York")
    )
    yield client
    await dpytest.empty_queue()
    client.state_db.close()


async def run(
    bot: AnalystBot, poster: MorningPoster, start: dt.datetime, end: dt.datetime
) -> list[discord.Message]:
    """Tick once a minute from ``start`` to ``end``; every message the bot sent."""
    messages: list[discord.Message] = []
    now = start
    while now <= end:
        bot.clock = lambda at=now: at  # type: ignore[misc]
        await poster.tick()
        messages += sent()
        now += dt.timedelta(minutes=1)
    return messages


async def seed_history() -> None:
    """One member message in the channel: dpytest cannot read an empty channel's history."""
    await dpytest.message("good morning")
    await dpytest.empty_queue()


def reports(messages: list[discord.Message]) -> int:
    """How many forecast reports began (a titled forecast embed)."""
    return sum(1 for m in messages if m.embeds and "forecast" in (m.embeds[0].title or ""))


def charts(messages: list[discord.Message]) -> int:
    return sum(1 for m in messages if m.attachments)


def notes(messages: list[discord.Message], text: str) -> int:
    return sum(1 for m in messages if text in (m.content or ""))


@pytest.fixture
def failing_uploads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Uploads fail while ``left["n"]`` > 0 (HTTP 403, as without Attach Files)."""
    left = {"n": 0}
    original = discord.abc.Messageable.send

    async def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("file") is not None and left["n"] != 0:
            left["n"] -= 1
            raise discord.Forbidden(_Response(), "Missing Permissions")  # type: ignore[arg-type]
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(discord.abc.Messageable, "send", send)
    return left


async def test_a_normal_morning(bot: AnalystBot) -> None:
    messages = await run(bot, MorningPoster(bot), ny(8, 25), ny(10, 0))
    assert reports(messages) == 1 and charts(messages) == 1
    assert messages[0].content.startswith("☀️ Morning forecast")
    unit = bot.state_db.post(messages[0].channel.id, DAY)
    assert unit is not None and unit.state == "delivered" and len(unit.sent) == len(messages)
    assert bot.state_db.is_forecast_message(messages[0].id)


async def test_the_chart_is_the_image_of_the_first_message(bot: AnalystBot) -> None:
    messages = await run(bot, MorningPoster(bot), ny(8, 25), ny(10, 0))
    (message,) = messages  # report, levels and chart: one message
    assert message.content == "☀️ Morning forecast for Fri 02 Jan 2026"
    assert "forecast" in (message.embeds[0].title or "")
    assert message.embeds[-1].title == "Levels for the next session"
    assert message.embeds[-1].image.url == "attachment://chart.png"
    assert [a.filename for a in message.attachments] == ["chart.png"]
    assert message.attachments[0].size > 10_000  # the drawn PNG, not an empty file


@pytest.mark.parametrize("failures", [1, -1])  # once; always
async def test_chart_upload_failing(
    bot: AnalystBot, failing_uploads: dict[str, int], failures: int
) -> None:
    failing_uploads["n"] = failures
    messages = await run(bot, MorningPoster(bot), ny(8, 30), ny(10, 0))
    assert reports(messages) == 1 and charts(messages) == 0
    assert notes(messages, "The chart is not attached: the upload failed (HTTP 403)") == 1
    (message,) = messages  # the note is under the heading of the report's message
    assert message.content.startswith("☀️ Morning forecast")
    assert all(not e.image for e in message.embeds)  # no image that points at nothing


async def test_a_5xx_on_the_upload_is_retried_with_the_image_not_sent_without_it(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 may follow a message Discord posted, so it is no refusal: nothing goes out
    at once without the image; the next tick finds nothing in the channel and retries."""
    original = discord.abc.Messageable.send
    calls = {"n": 0}

    async def unavailable_once(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise discord.HTTPException(_Unavailable(), "upstream")  # type: ignore[arg-type]
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(discord.abc.Messageable, "send", unavailable_once)
    await seed_history()
    messages = await run(bot, MorningPoster(bot), ny(8, 30), ny(10, 0))
    assert reports(messages) == 1 and charts(messages) == 1 and len(messages) == 1
    assert notes(messages, "HTTP 503") == 0
    unit = bot.state_db.post(messages[0].channel.id, DAY)
    assert unit is not None and unit.state == "delivered" and unit.attempts == 1


def landed_then_failed(
    monkeypatch: pytest.MonkeyPatch, exc: BaseException, on_call: int = 1
) -> dict[str, int]:
    """The ``on_call``-th send reaches the channel, then raises ``exc`` (the reply lost)."""
    original = discord.abc.Messageable.send
    calls = {"n": 0}

    async def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        message = await original(self, *args, **kwargs)
        if calls["n"] == on_call:
            raise exc
        return message

    monkeypatch.setattr(discord.abc.Messageable, "send", send)
    return calls


@pytest.mark.parametrize(
    "exc",
    [
        discord.HTTPException(_Unavailable(), "upstream"),  # type: ignore[arg-type]
        TimeoutError(),
    ],
    ids=["503", "timeout"],
)
async def test_a_send_that_landed_then_failed_is_not_posted_twice(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    """The same process retries on its next tick: it reads the channel first."""
    calls = landed_then_failed(monkeypatch, exc)
    messages = await run(bot, MorningPoster(bot), ny(8, 30), ny(10, 0))
    assert reports(messages) == 1 and charts(messages) == 1 and len(messages) == 1
    assert calls["n"] == 1  # found in the channel, never sent again
    unit = bot.state_db.post(messages[0].channel.id, DAY)
    assert unit is not None and unit.state == "delivered" and unit.sent == {0: messages[0].id}
    assert unit.attempts == 1 and bot.state_db.is_forecast_message(messages[0].id)


async def test_a_later_part_that_landed_then_timed_out_is_not_posted_twice(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(posting_module, "batches", lambda embeds: [[e] for e in embeds])
    calls = landed_then_failed(monkeypatch, TimeoutError(), on_call=2)
    messages = await run(bot, MorningPoster(bot), ny(8, 30), ny(10, 0))
    unit = bot.state_db.post(messages[0].channel.id, DAY)
    assert unit is not None and unit.state == "delivered"
    assert len(unit.sent) >= 3 and len(messages) == len(unit.sent) == calls["n"]
    assert [m.id for m in messages] == [unit.sent[i] for i in range(len(unit.sent))]


async def test_an_uncertain_send_is_found_with_the_host_clock_ahead(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim's time is 30 s after Discord's time of the message: still found."""
    calls = landed_then_failed(monkeypatch, TimeoutError())
    poster = MorningPoster(bot)
    bot.clock = lambda: ny(8, 30)
    assert await poster.tick() == 0
    before = sent()
    ahead = before[0].created_at + dt.timedelta(seconds=30)
    unit = bot.state_db.post(before[0].channel.id, DAY)
    assert unit is not None
    with bot.state_db._lock:  # the host clock ran ahead when it claimed the post
        bot.state_db._conn.execute(
            "UPDATE bot_post_units SET claimed_at = ? WHERE channel_id = ? AND day = ?",
            (ahead.isoformat(), unit.channel_id, DAY.isoformat()),
        )
    after = await run(bot, poster, ny(8, 31), ny(10, 0))
    assert len(before) == 1 and after == [] and calls["n"] == 1
    settled = bot.state_db.post(before[0].channel.id, DAY)
    assert settled is not None and settled.sent == {0: before[0].id}


async def test_a_refused_send_is_retried_without_reading_the_channel(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 403 on the second message: nothing of it landed, so the retry just sends it."""
    monkeypatch.setattr(posting_module, "batches", lambda embeds: [[e] for e in embeds])
    original = discord.abc.Messageable.send
    calls = {"n": 0}

    async def refused_second(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise discord.Forbidden(_Response(), "Missing Access")  # type: ignore[arg-type]
        return await original(self, *args, **kwargs)

    async def no_history(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the channel was read after a refusal")

    monkeypatch.setattr(discord.abc.Messageable, "send", refused_second)
    monkeypatch.setattr(posting_module.MorningPoster, "_reconcile", no_history)
    poster = MorningPoster(bot)
    messages = await run(bot, poster, ny(8, 30), ny(10, 0))
    unit = bot.state_db.post(messages[0].channel.id, DAY)
    assert unit is not None and unit.state == "delivered" and unit.attempts == 1
    assert len(messages) == len(unit.sent) == calls["n"] - 1 >= 3


async def test_the_last_attempt_that_may_have_landed_is_given_up(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every send times out before landing: given up after MAX_ATTEMPTS, as before."""

    async def always_times_out(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise TimeoutError

    await seed_history()
    monkeypatch.setattr(discord.abc.Messageable, "send", always_times_out)
    messages = await run(bot, MorningPoster(bot), ny(8, 30), ny(10, 0))
    unit = bot.state_db.post(dpytest.get_config().channels[0].id, DAY)
    assert messages == [] and unit is not None
    assert unit.state == "failed" and unit.attempts == posting_module.MAX_ATTEMPTS


async def test_uploads_that_always_fail_with_a_5xx_degrade_on_the_last_attempt(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chart upload answered 503 every time: the earlier attempts may have landed, so
    they are retried with the image; the last one sends the report without it."""
    original = discord.abc.Messageable.send

    async def uploads_unavailable(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("file") is not None:
            raise discord.HTTPException(_Unavailable(), "upstream")  # type: ignore[arg-type]
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(discord.abc.Messageable, "send", uploads_unavailable)
    await seed_history()
    messages = await run(bot, MorningPoster(bot), ny(8, 30), ny(10, 0))
    assert reports(messages) == 1 and charts(messages) == 0 and len(messages) == 1
    assert notes(messages, "The chart is not attached: the upload failed (HTTP 503)") == 1
    unit = bot.state_db.post(messages[0].channel.id, DAY)
    assert unit is not None and unit.state == "delivered"
    assert unit.attempts == posting_module.MAX_ATTEMPTS - 1


async def test_missing_attach_files_permission(bot: AnalystBot) -> None:
    channel = dpytest.get_config().channels[0]
    await dpytest.set_permission_overrides(channel.guild.default_role, channel, attach_files=False)
    messages = await run(bot, MorningPoster(bot), ny(8, 30), ny(10, 0))
    assert reports(messages) == 1 and charts(messages) == 0
    assert notes(messages, "Attach Files") == 1
    (message,) = messages
    assert message.content.startswith("☀️ Morning forecast")
    assert all(not e.image for e in message.embeds)


async def test_missing_embed_links_is_reported_once_then_posted_when_granted(
    bot: AnalystBot,
) -> None:
    channel = dpytest.get_config().channels[0]
    role = channel.guild.default_role
    await dpytest.set_permission_overrides(role, channel, embed_links=False)
    poster = MorningPoster(bot)
    messages = await run(bot, poster, ny(8, 30), ny(9, 0))
    assert reports(messages) == 0 and notes(messages, "Embed Links") == 1
    await dpytest.set_permission_overrides(role, channel, embed_links=True)
    messages = await run(bot, poster, ny(9, 1), ny(10, 0))
    assert reports(messages) == 1 and notes(messages, "Embed Links") == 0


async def test_a_crash_between_claim_and_send_is_posted_within_the_window(
    bot: AnalystBot,
) -> None:
    channel = dpytest.get_config().channels[0]
    dead = MorningPoster(bot)
    assert bot.state_db.claim_post(channel.id, DAY, dead.owner, ny(8, 30), dead.lease)
    restarted = MorningPoster(bot)  # a new process: the claim is someone else's
    assert dead.lease < dt.timedelta(minutes=5)
    leased = await run(bot, restarted, ny(8, 31), ny(8, 34))  # the lease still runs
    messages = await run(bot, restarted, ny(8, 35), ny(10, 0))
    assert reports(leased) == 0
    assert reports(messages) == 1 and charts(messages) == 1


async def test_a_restart_after_the_window_skips_once_and_says_so(
    bot: AnalystBot, caplog: pytest.LogCaptureFixture
) -> None:
    channel = dpytest.get_config().channels[0]
    dead = MorningPoster(bot)
    assert bot.state_db.claim_post(channel.id, DAY, dead.owner, ny(9, 59), dead.lease)
    messages = await run(bot, MorningPoster(bot), ny(10, 5), ny(10, 30))
    assert reports(messages) == 0
    assert caplog.text.count("window passed") == 1
    unit = bot.state_db.post(channel.id, DAY)
    assert unit is not None and unit.state == "missed"


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the bot catches it)."""


async def test_a_crash_during_the_upload_is_posted_once_later(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = MorningPoster(bot)
    original = discord.abc.Messageable.send

    async def crash_on_chart(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("file") is not None:
            raise Crash
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(discord.abc.Messageable, "send", crash_on_chart)
    bot.clock = lambda: ny(8, 30)
    with pytest.raises(Crash):
        await first.tick()
    before = sent()
    monkeypatch.setattr(discord.abc.Messageable, "send", original)
    after = await run(bot, MorningPoster(bot), ny(8, 31), ny(10, 30))
    assert before == []  # the chart travels with the report's first message
    assert reports(after) == 1 and charts(after) == 1 and len(after) == 1


async def test_a_partial_delivery_is_completed_not_repeated(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report long enough for several messages; the process dies after the first."""
    monkeypatch.setattr(posting_module, "batches", lambda embeds: [[e] for e in embeds])
    first = MorningPoster(bot)
    original = discord.abc.Messageable.send
    calls = {"n": 0}

    async def crash_on_second(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(discord.abc.Messageable, "send", crash_on_second)
    bot.clock = lambda: ny(8, 30)
    with pytest.raises(Crash):
        await first.tick()
    before = sent()
    monkeypatch.setattr(discord.abc.Messageable, "send", original)
    after = await run(bot, MorningPoster(bot), ny(8, 31), ny(10, 30))
    assert reports(before) == 1 and reports(after) == 0  # the report was not sent again
    assert charts(before) == 1 and charts(after) == 0  # nor its chart
    unit = bot.state_db.post(before[0].channel.id, DAY)
    assert unit is not None and unit.state == "delivered"
    assert len(before) == 1 and len(after) == len(unit.sent) - 1 >= 2  # the rest, once
    assert {m.id for m in before + after} == set(unit.sent.values())


async def test_a_part_sent_but_not_recorded_is_found_in_the_channel(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash comes after Discord accepted a message and before its id was stored."""
    first = MorningPoster(bot)
    original = BotState.record_part

    def crash(self: BotState, *args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(BotState, "record_part", crash)
    bot.clock = lambda: ny(8, 30)
    with pytest.raises(Crash):
        await first.tick()
    before = sent()
    monkeypatch.setattr(BotState, "record_part", original)
    after = await run(bot, MorningPoster(bot), ny(8, 31), ny(10, 0))
    assert reports(before) == 1 and reports(after) == 0
    assert charts(before + after) == 1


async def test_two_channels_one_post_each(bot: AnalystBot) -> None:
    guild = dpytest.get_config().guilds[0]
    other = dpytest.backend.make_text_channel("second", guild)
    bot.state_db.set_schedule(Schedule(other.id, guild.id, dt.time(9, 0), "America/New_York"))
    messages = await run(bot, MorningPoster(bot), ny(8, 30), ny(10, 30))
    by_channel: dict[int, int] = {}
    for m in messages:
        if m.embeds and "forecast" in (m.embeds[0].title or ""):
            by_channel[m.channel.id] = by_channel.get(m.channel.id, 0) + 1
    assert sorted(by_channel.values()) == [1, 1]


async def test_a_hanging_refresh_does_not_hold_the_post(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await start_bot(load_settings(DISCORD_REFRESH_SECONDS=0.5))
    release = threading.Event()
    calls: list[float] = []

    def hang(day: dt.date, seconds: float | None = None) -> None:
        calls.append(seconds or 0.0)
        release.wait(120)

    monkeypatch.setattr(client.service, "refresh_store", hang)
    monkeypatch.setattr(refresh_module, "REFRESH_SLACK_SECONDS", 0.5)
    channel = dpytest.get_config().channels[0]
    client.state_db.set_schedule(
        Schedule(channel.id, channel.guild.id, dt.time(8, 30), "America/New_York")
    )
    try:
        started = time.monotonic()
        messages = await run(client, MorningPoster(client), ny(8, 30), ny(8, 31))
        # the post went out long before the refresh would have returned (120 s); the bound
        # leaves room for the chart worker's start and render on a loaded machine
        assert time.monotonic() - started < 60.0
        assert calls == [0.5] and reports(messages) == 1
    finally:
        release.set()
        await dpytest.empty_queue()
        client.state_db.close()


async def test_a_post_prepared_by_the_earlier_layout_is_completed(bot: AnalystBot) -> None:
    """A unit stored before an upgrade (report, then the chart as a part of its own) and
    cut short after its report is completed with its chart, once, after the upgrade."""
    channel = dpytest.get_config().channels[0]
    dead = MorningPoster(bot)
    unit = bot.state_db.claim_post(channel.id, DAY, dead.owner, ny(8, 30), dead.lease)
    assert unit is not None
    embed = discord.Embed(title="IWM forecast: Neutral tomorrow", description="old layout")
    parts = [
        {"kind": "embeds", "embeds": [embed.to_dict()], "content": "☀️ Morning forecast"},
        {"kind": "chart", "filename": "iwm-morning-2026-01-02.png"},
    ]
    unit = bot.state_db.save_parts(unit, dead.owner, parts, b"\x89PNG old", ny(8, 33))
    bot.state_db.record_part(unit, dead.owner, 0, 1, ny(8, 33))  # the report went out
    messages = await run(bot, MorningPoster(bot), ny(8, 34), ny(10, 0))
    assert reports(messages) == 0 and charts(messages) == 1 and len(messages) == 1
    assert messages[0].attachments[0].filename == "iwm-morning-2026-01-02.png"
    done = bot.state_db.post(channel.id, DAY)
    assert done is not None and done.state == "delivered" and set(done.sent) == {0, 1}
