"""A forecast by slash command: the chart as the embed image, persistent buttons, the Ask
modal, and threads with memory per user (harness: ``slash_harness``)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import discord
import discord.ext.test as dpytest

from bot.discord_bot.app import AnalystBot
from bot.discord_bot.buttons import ACTIONS, AskModal, ForecastButton, forecast_view
from bot.discord_bot.cogs.forecast import thread_name
from bot.settings import Settings, load_settings
from tests.bot import slash_harness
from tests.bot.slash_harness import (
    AS_OF,
    FakeMessage,
    _ids,
    click,
    interaction,
    overrides,
    slash,
)
from tests.bot.test_discord import NOW, start_bot

bot = slash_harness.bot_fixture  # the fixture the tests take as ``bot``


# --- the forecast: chart as the embed image, buttons, a thread --------------------------
async def test_slash_forecast_has_chart_buttons_and_a_thread(bot: AnalystBot) -> None:
    await overrides(create_public_threads=True, send_messages_in_threads=True)
    rec = await slash(bot, "forecast")
    first = next(e for e in rec.replies() if e.get("embeds"))
    assert first["file"].filename == "chart.png"
    assert first["embeds"][-1].image.url == "attachment://chart.png"
    view: discord.ui.View = first["view"]
    assert view.timeout is None and view.is_persistent()
    ids = [item.custom_id for item in view.children]  # type: ignore[attr-defined]
    assert ids == [f"iwm:{action}:{AS_OF}" for action in ACTIONS]
    message = rec.messages[0]
    (thread,) = message.threads
    assert thread.name.startswith(f"IWM {AS_OF} · ")
    assert thread.name.split(" · ")[1] in ("Bullish", "Bearish", "Neutral")
    assert "follow-up" in thread.sent[0]
    assert bot.state_db.is_forecast_message(message.id)


async def test_no_thread_in_a_dm_or_without_permission(bot: AnalystBot) -> None:
    await overrides(create_public_threads=False, send_messages_in_threads=True)
    rec = await slash(bot, "forecast")
    assert rec.messages[0].threads == []
    assert "thread" not in rec.text().lower()  # nothing scary said
    await overrides(create_public_threads=True, send_messages_in_threads=True)
    rec = await slash(bot, "forecast", dm=True)
    assert any(e.get("embeds") for e in rec.replies())
    assert all(m.threads == [] for m in rec.messages)


async def test_failed_thread_creation_is_quiet(bot: AnalystBot, monkeypatch: Any) -> None:
    await overrides(create_public_threads=True, send_messages_in_threads=True)
    monkeypatch.setattr(FakeMessage, "__init__", _failing_init)
    rec = await slash(bot, "forecast")
    assert any(e.get("embeds") for e in rec.replies())
    assert "thread" not in rec.text().lower()


def _failing_init(self: FakeMessage, channel: Any, fail_thread: bool = True) -> None:
    self.id = next(_ids)
    self.channel = channel
    self.threads = []
    self.fail_thread = True


def test_thread_name(demo_state: Any) -> None:
    assert thread_name(demo_state) == f"IWM {demo_state.as_of} · {demo_state.tomorrow.call}"


async def test_buttons_survive_a_restart(settings: Settings) -> None:
    from bot.chart import ChartCache
    from bot.discord_bot.persist import BotState
    from bot.service import AnalystService

    # a freshly started bot (dpytest replaces the connection state, so none here)
    fresh = AnalystBot(
        settings,
        AnalystService(settings),
        state_db=BotState(settings.database),
        charts=ChartCache(),
        start_scheduler=False,
        sync_commands=False,
    )
    try:
        await fresh._async_setup_hook()
        await fresh.setup_hook()
        store = fresh._connection._view_store
        assert ForecastButton in store._dynamic_items.values()
    finally:
        fresh.state_db.close()
    view = forecast_view(dt.date(2026, 7, 2))
    assert view.timeout is None and view.is_persistent()


async def test_signals_button(bot: AnalystBot) -> None:
    rec = await click(bot, f"iwm:signals:{AS_OF}")
    assert rec.log[0] == {"via": "defer", "ephemeral": True}
    assert "Golden_Setup" in rec.text() and AS_OF in rec.text()
    assert all(e["ephemeral"] for e in rec.replies())


async def test_signals_button_answers_about_its_own_day(bot: AnalystBot) -> None:
    rec = await click(bot, "iwm:signals:2025-06-30")
    assert "on 2025-06-30" in rec.text()
    rec = await click(bot, "iwm:signals:1990-01-01")
    assert "no data for 1990-01-01" in rec.text()


async def test_levels_and_chart_buttons(bot: AnalystBot) -> None:
    rec = await click(bot, f"iwm:levels:{AS_OF}")
    (reply,) = rec.replies()
    embed = reply["embed"]
    assert "Range tomorrow: 68%" in (embed.description or "")
    assert "Net GEX" in (embed.description or "") and reply["ephemeral"]
    rec = await click(bot, f"iwm:chart:{AS_OF}")
    (reply,) = rec.replies()
    assert reply["file"].filename == "chart.png" and reply["ephemeral"]
    assert reply["embed"].image.url == "attachment://chart.png"


async def test_ask_button_opens_a_modal_and_answers(bot: AnalystBot) -> None:
    rec = await click(bot, f"iwm:ask:{AS_OF}")
    (entry,) = rec.log
    modal = entry["modal"]
    assert isinstance(modal, AskModal) and modal.question.max_length == 500
    modal.question._value = "why is GEX_Negative not firing?"
    inter, rec = interaction(bot, {"custom_id": modal.custom_id, "components": []}, kind=5)
    await modal.on_submit(inter)
    assert rec.log[0] == {"via": "defer", "ephemeral": False}
    assert "GEX_Negative" in rec.text() and rec.text().startswith("> why is GEX\\_Negative")
    member, channel = dpytest.get_config().members[0], dpytest.get_config().channels[0]
    history = bot.state_db.history(channel.id, member.id, NOW, dt.timedelta(hours=1))
    assert [role for role, _ in history] == ["user", "assistant"]


async def test_ask_modal_rejects_a_too_long_question_privately(settings: Settings) -> None:
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=0, DISCORD_MAX_INPUT_CHARS=20))
    try:
        modal = AskModal(dt.date(2025, 12, 31), 20)
        modal.question._value = "why " * 20
        inter, rec = interaction(client, {"custom_id": modal.custom_id}, kind=5)
        await modal.on_submit(inter)
        (reply,) = rec.replies()
        assert "limited to 20 characters" in reply["content"] and reply["ephemeral"]
    finally:
        client.state_db.close()


# --- threads: only the bot's own, memory per user and thread ---------------------------
class RecordingThread(discord.Thread):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outbox: list[str] = []

    async def send(self, content: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        self.outbox.append(content or "")

    def typing(self) -> Any:  # type: ignore[override]
        return contextlib.nullcontext()


def make_thread(bot: AnalystBot, owner_id: int) -> RecordingThread:
    channel = dpytest.get_config().channels[0]
    data = {
        "id": str(next(_ids)),
        "guild_id": str(channel.guild.id),
        "parent_id": str(channel.id),
        "owner_id": str(owner_id),
        "name": "IWM 2025-12-31 · Neutral",
        "type": 11,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-01-02T14:00:00+00:00",
            "locked": False,
        },
    }
    return RecordingThread(guild=channel.guild, state=bot._connection, data=data)  # type: ignore[arg-type]


class Msg:
    """A plain message in a thread (what on_message receives)."""

    def __init__(self, author: Any, channel: Any, content: str) -> None:
        self.author, self.channel, self.content = author, channel, content
        self.reference = None


async def test_follow_ups_in_the_bots_thread_are_remembered_per_user(bot: AnalystBot) -> None:
    assert bot.user is not None
    config = await _two_members()
    thread = make_thread(bot, bot.user.id)
    cog: Any = bot.get_cog("FollowupCog")
    await cog.on_message(Msg(config[0], thread, "why is GEX_Negative not firing?"))
    await cog.on_message(Msg(config[1], thread, "and Golden_Setup?"))
    assert len(thread.outbox) == 2 and "GEX_Negative" in thread.outbox[0]
    for member in config:
        history = bot.state_db.history(thread.id, member.id, NOW, dt.timedelta(hours=1))
        assert len(history) == 2  # each person's own turns, keyed by the thread
    channel = dpytest.get_config().channels[0]
    assert bot.state_db.history(channel.id, config[0].id, NOW, dt.timedelta(hours=1)) == []


async def test_a_thread_someone_else_opened_is_left_alone(bot: AnalystBot) -> None:
    member = dpytest.get_config().members[0]
    thread = make_thread(bot, member.id)
    bot.state_db.remember_forecast(thread.id, thread.id, NOW)  # even on a forecast
    cog: Any = bot.get_cog("FollowupCog")
    await cog.on_message(Msg(member, thread, "why is GEX_Negative not firing?"))
    assert thread.outbox == []


async def _two_members() -> list[Any]:
    return [dpytest.get_config().members[0], await dpytest.member_join(name="second")]
