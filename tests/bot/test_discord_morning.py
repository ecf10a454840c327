"""The morning post's levels block, buttons and thread (dpytest, scheduler ticked by hand)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio

from bot.discord_bot.app import AnalystBot
from bot.discord_bot.buttons import ACTIONS
from bot.discord_bot.persist import Schedule
from bot.discord_bot.posting import MorningPoster
from bot.settings import load_settings
from tests.bot.test_discord import sent, start_bot

AT = dt.datetime(2026, 1, 2, 8, 45, tzinfo=ZoneInfo("America/New_York")).astimezone(dt.UTC)


@pytest_asyncio.fixture
async def bot() -> AsyncIterator[AnalystBot]:
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=0))
    channel = dpytest.get_config().channels[0]
    client.state_db.set_schedule(
        Schedule(channel.id, channel.guild.id, dt.time(8, 30), "America/New_York")
    )
    client.clock = lambda: AT
    yield client
    await dpytest.empty_queue()
    client.state_db.close()


class Threads:
    """Records threads opened on a message instead of calling Discord."""

    def __init__(self) -> None:
        self.opened: list[tuple[int, str]] = []
        self.intro: list[str] = []


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> Threads:
    record = Threads()

    class Thread:
        def __init__(self, id: int) -> None:
            self.id = id  # Discord gives a thread started from a message that message's id

        async def send(self, content: str, **kwargs: Any) -> None:
            record.intro.append(content)

    async def create_thread(message: Any, *, name: str, **kwargs: Any) -> Thread:
        record.opened.append((message.id, name))
        return Thread(message.id)

    monkeypatch.setattr(discord.PartialMessage, "create_thread", create_thread)
    return record


async def test_morning_post_has_levels_and_buttons(bot: AnalystBot, threads: Threads) -> None:
    assert await MorningPoster(bot).tick() == 1
    messages = sent()
    first = messages[0]
    assert first.content.startswith("☀️ Morning forecast")
    embeds = [e for m in messages for e in m.embeds]
    levels = next(e for e in embeds if e.title == "Levels for the next session")
    assert (levels.description or "").startswith("Range tomorrow: 68% ")
    assert "close**" in (levels.description or "") and "Net GEX" in (levels.description or "")
    assert threads.opened == []  # dpytest's bot may not open threads: none, nothing said
    assert not any("thread" in (m.content or "").lower() for m in messages)


async def test_morning_post_opens_a_thread_where_it_may(bot: AnalystBot, threads: Threads) -> None:
    channel = dpytest.get_config().channels[0]
    await dpytest.set_permission_overrides(
        channel.guild.default_role,
        channel,
        create_public_threads=True,
        send_messages_in_threads=True,
    )
    assert await MorningPoster(bot).tick() == 1
    first = sent()[0]
    ((message_id, name),) = threads.opened
    assert message_id == first.id and name.startswith("IWM 2025-12-31 · ")
    assert "follow-up" in threads.intro[0]
    # A reply to the post inside or outside the thread is a follow-up: the thread's id
    # is the post's, remembered as a forecast; nothing else is stored for the thread.
    assert bot.state_db.is_forecast_message(first.id)


async def test_buttons_are_sent_with_the_first_part(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch, threads: Threads
) -> None:
    views: list[discord.ui.View] = []
    original = discord.abc.Messageable.send

    async def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("view") is not None:
            views.append(kwargs["view"])
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(discord.abc.Messageable, "send", send)
    assert await MorningPoster(bot).tick() == 1
    (view,) = views
    ids = [item.custom_id for item in view.children]  # type: ignore[attr-defined]
    assert ids == [f"iwm:{a}:2025-12-31" for a in ACTIONS] and view.timeout is None
