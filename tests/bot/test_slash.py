"""Slash commands, buttons, the Ask modal and autocomplete, through real interactions.

dpytest simulates the gateway for prefix commands only, so an interaction here is a
real :class:`discord.Interaction` built from the payload Discord sends, on dpytest's
connection state, and dispatched by the bot's own command tree. Only its two outgoing
channels (the response and the follow-up webhook) are recorded instead of sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from discord.ext import commands

from bot.discord_bot.app import AnalystBot
from bot.discord_bot.buttons import ACTIONS, AskModal, ForecastButton, forecast_view
from bot.discord_bot.cogs.forecast import thread_name
from bot.discord_bot.guards import for_members
from bot.discord_bot.persist import Schedule
from bot.narrator.factory import NO_KEY_NOTE
from bot.settings import Settings, load_settings
from engine.rules import load_playbook
from tests.bot.test_discord import NOW, sent, start_bot

CHAIN = Path("/work/shared/data/raw/daggerok_options-desk/IWM_chain_2026-07-12.json")
AS_OF = "2025-12-31"  # the demo data's last day
# Snowflakes of now: an interaction older than 15 minutes counts as expired.
_ids = itertools.count(discord.utils.time_snowflake(discord.utils.utcnow()))


def _given(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not discord.utils.MISSING}


class FakeThread:
    """What ``Message.create_thread`` returns, recording what is sent into it."""

    def __init__(self, name: str) -> None:
        self.id = next(_ids)
        self.name = name
        self.sent: list[str] = []

    async def send(self, content: str, **kwargs: Any) -> None:
        self.sent.append(content)


class FakeMessage:
    """The message an interaction's response became (``original_response``)."""

    def __init__(self, channel: Any, fail_thread: bool = False) -> None:
        self.id = next(_ids)
        self.channel = channel
        self.threads: list[FakeThread] = []
        self.fail_thread = fail_thread

    async def create_thread(self, *, name: str, **kwargs: Any) -> FakeThread:
        if self.fail_thread:
            raise discord.Forbidden(_Forbidden(), "Missing Permissions")  # type: ignore[arg-type]
        self.threads.append(FakeThread(name))
        return self.threads[-1]


class _Forbidden:
    status = 403
    reason = "Forbidden"


class Recorder:
    """The interaction's response and follow-up webhook; every call in ``log``."""

    def __init__(self, channel: Any) -> None:
        self.log: list[dict[str, Any]] = []
        self.done = False
        self.channel = channel
        self.messages: list[FakeMessage] = []

    # InteractionResponse
    def is_done(self) -> bool:
        return self.done

    async def send_message(self, content: str | None = None, **kwargs: Any) -> Any:
        self.done = True
        self.log.append({"via": "response", "content": content, **_given(kwargs)})
        self.messages.append(FakeMessage(self.channel))

        class Callback:
            resource = None

        return Callback()

    async def defer(self, *, ephemeral: bool = False, thinking: bool = False) -> None:
        self.done = True
        self.log.append({"via": "defer", "ephemeral": ephemeral})

    async def send_modal(self, modal: discord.ui.Modal) -> None:
        self.done = True
        self.log.append({"via": "modal", "modal": modal})

    async def autocomplete(self, choices: list[discord.app_commands.Choice[Any]]) -> None:
        self.done = True
        self.log.append({"via": "autocomplete", "choices": choices})

    # the follow-up webhook
    async def send(self, content: str | None = None, **kwargs: Any) -> FakeMessage:
        self.log.append({"via": "followup", "content": content, **_given(kwargs)})
        self.messages.append(FakeMessage(self.channel))
        return self.messages[-1]

    def replies(self) -> list[dict[str, Any]]:
        return [e for e in self.log if e["via"] in ("response", "followup")]

    def vias(self) -> list[str]:
        return [e["via"] for e in self.log]

    def text(self) -> str:
        return "\n".join(str(e.get("content") or "") for e in self.replies())


class Interaction(discord.Interaction):  # type: ignore[type-arg]
    async def original_response(self) -> Any:
        return self.extras["recorder"].messages[-1]

    async def delete_original_response(self) -> None:
        self.extras["recorder"].log.append({"via": "delete"})


def interaction(
    bot: AnalystBot,
    data: dict[str, Any],
    *,
    kind: int = 2,
    manager: bool = False,
    dm: bool = False,
) -> tuple[Interaction, Recorder]:
    """An interaction as Discord sends it, from the first dpytest member."""
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[0]
    user = {
        "id": str(member.id),
        "username": member.name,
        "discriminator": "0001",
        "avatar": None,
        "global_name": None,
    }
    payload: dict[str, Any] = {
        "id": str(next(_ids)),
        "application_id": str(bot.user.id if bot.user else 1),
        "type": kind,
        "token": "not-a-token",
        "version": 1,
        "attachment_size_limit": 8_000_000,
        "data": data,
        "locale": "en-US",
    }
    if dm:
        payload["user"] = user
        payload["channel"] = {"id": str(next(_ids)), "type": 1}
    else:
        perms = discord.Permissions(manage_guild=True) if manager else discord.Permissions.none()
        payload["guild_id"] = str(channel.guild.id)
        payload["channel"] = {"id": str(channel.id), "type": 0}
        payload["member"] = {
            "user": user,
            "roles": [],
            "joined_at": "2025-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "permissions": str(perms.value),
            "flags": 0,
        }
    inter = Interaction(data=payload, state=bot._connection)  # type: ignore[arg-type]
    recorder = Recorder(None if dm else channel)
    inter._cs_response = recorder  # type: ignore[assignment]
    inter._cs_followup = recorder  # type: ignore[assignment]
    inter.extras["recorder"] = recorder
    return inter, recorder


async def drain() -> None:
    """Wait for the events the command framework dispatched (e.g. command_error)."""
    for _ in range(100):
        pending = [
            t
            for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and t.get_name().startswith("discord.py")
        ]
        if not pending:
            return
        await asyncio.wait(pending, timeout=5)


def command(name: str, options: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": str(next(_ids)), "name": name, "type": 1, "options": options or []}


def option(name: str, value: str, *, focused: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": 3, "value": value}
    if focused:
        out["focused"] = True
    return out


async def slash(
    bot: AnalystBot, name: str, *opts: dict[str, Any], manager: bool = False, dm: bool = False
) -> Recorder:
    inter, rec = interaction(bot, command(name, list(opts)), manager=manager, dm=dm)
    await bot.tree._call(inter)
    await drain()
    return rec


async def complete(bot: AnalystBot, name: str, *opts: dict[str, Any]) -> list[str]:
    inter, rec = interaction(bot, command(name, list(opts)), kind=4)
    await bot.tree._call(inter)
    (entry,) = rec.log
    return [c.value for c in entry["choices"]]


async def click(bot: AnalystBot, custom_id: str) -> Recorder:
    """A click on a forecast button, restored from its custom_id as after a restart."""
    inter, rec = interaction(bot, {"custom_id": custom_id, "component_type": 2}, kind=3)
    match = ForecastButton.__discord_ui_compiled_template__.fullmatch(custom_id)
    assert match is not None, custom_id
    button = await ForecastButton.from_custom_id(inter, discord.ui.Button(), match)
    await button.callback(inter)
    return rec


@pytest_asyncio.fixture
async def bot() -> AsyncIterator[AnalystBot]:
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=0))
    yield client
    await dpytest.empty_queue()
    client.state_db.close()


async def overrides(**perms: bool) -> None:
    channel = dpytest.get_config().channels[0]
    await dpytest.set_permission_overrides(channel.guild.default_role, channel, **perms)


# --- the command definitions Discord shows ------------------------------------------
def test_every_option_is_described_and_schedule_is_for_managers(bot: AnalystBot) -> None:
    for cmd in bot.tree.get_commands():
        assert isinstance(cmd, discord.app_commands.Command)
        for param in cmd.parameters:
            assert param.description and param.description != "…", (cmd.name, param.name)
    schedule = bot.tree.get_command("schedule")
    assert isinstance(schedule, discord.app_commands.Command)
    assert schedule.default_permissions is not None and schedule.default_permissions.manage_guild
    assert schedule.guild_only
    state = next(p for p in schedule.parameters if p.name == "state")
    assert [c.value for c in state.choices] == ["on", "off"]
    assert next(p for p in schedule.parameters if p.name == "tz").autocomplete
    explain = bot.tree.get_command("explain")
    assert isinstance(explain, discord.app_commands.Command)
    assert explain.parameters[0].autocomplete
    alerts = bot.tree.get_command("alerts")
    assert isinstance(alerts, discord.app_commands.Command)
    assert alerts.default_permissions is not None and alerts.default_permissions.manage_guild
    assert alerts.guild_only
    (state,) = alerts.parameters
    assert [c.value for c in state.choices] == ["on", "off", "status"] and not state.required


# --- autocomplete --------------------------------------------------------------------
async def test_rule_autocomplete_comes_from_the_playbook(bot: AnalystBot) -> None:
    names = [r.name for r in load_playbook(None).rules]
    assert await complete(bot, "explain", option("rule", "", focused=True)) == names
    assert await complete(bot, "explain", option("rule", "gold", focused=True)) == ["Golden_Setup"]


async def test_rule_autocomplete_follows_a_custom_playbook(tmp_path: Path) -> None:
    from engine.rules import DEFAULT_PLAYBOOK

    text = DEFAULT_PLAYBOOK.read_text(encoding="utf-8").replace("Golden_Setup", "Silver_Setup")
    path = tmp_path / "playbook.toml"
    path.write_text(text, encoding="utf-8")
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=0, IWM_PLAYBOOK=str(path)))
    try:
        got = await complete(client, "explain", option("rule", "setup", focused=True))
        assert got == ["Silver_Setup"]
    finally:
        client.state_db.close()


async def test_time_zone_autocomplete(bot: AnalystBot) -> None:
    assert await complete(bot, "schedule", option("tz", "berl", focused=True)) == ["Europe/Berlin"]
    got = await complete(bot, "schedule", option("tz", "new_y", focused=True))
    assert got[0] == "America/New_York" and len(got) <= 25


# --- errors and checks, each with its own reason, seen only by the user --------------
async def test_schedule_in_a_dm_says_server_only(bot: AnalystBot) -> None:
    rec = await slash(bot, "schedule", option("state", "on"), dm=True)
    (reply,) = rec.replies()
    assert "only in a server channel" in reply["content"] and reply["ephemeral"] is True
    assert "Manage Server" not in reply["content"]


async def test_schedule_by_a_member_needs_manage_server(bot: AnalystBot) -> None:
    rec = await slash(bot, "schedule", option("state", "on"))
    (reply,) = rec.replies()
    assert "needs the Manage Server permission" in reply["content"] and reply["ephemeral"]
    assert bot.state_db.schedules() == []


async def test_schedule_by_a_manager(bot: AnalystBot) -> None:
    rec = await slash(
        bot,
        "schedule",
        option("state", "on"),
        option("at", "09:15"),
        option("tz", "Europe/Berlin"),
        manager=True,
    )
    assert "09:15 Europe/Berlin" in rec.text()
    (entry,) = bot.state_db.schedules()
    assert entry.enabled and entry.at_time == dt.time(9, 15) and entry.tz == "Europe/Berlin"
    rec = await slash(bot, "schedule", manager=True)  # no state: show, change nothing
    (reply,) = rec.replies()
    assert reply["ephemeral"] and "09:15 Europe/Berlin" in reply["content"]
    rec = await slash(bot, "schedule", option("state", "off"), manager=True)
    assert "off" in rec.text() and not bot.state_db.schedules()[0].enabled
    assert bot.state_db.schedules()[0].at_time == dt.time(9, 15)  # the time is kept


async def test_abbreviated_time_zone_is_refused_with_a_hint(bot: AnalystBot) -> None:
    rec = await slash(bot, "schedule", option("state", "on"), option("tz", "EST"), manager=True)
    (reply,) = rec.replies()
    assert "use America/New_York" in reply["content"] and reply["ephemeral"]
    rec = await slash(bot, "schedule", option("state", "on"), option("tz", "PST"), manager=True)
    assert "America/Los_Angeles" in rec.text()
    assert bot.state_db.schedules() == []


async def test_alerts_in_a_dm_says_server_only(bot: AnalystBot) -> None:
    rec = await slash(bot, "alerts", option("state", "on"), dm=True)
    (reply,) = rec.replies()
    assert "only in a server channel" in reply["content"] and reply["ephemeral"] is True


async def test_alerts_by_a_member(bot: AnalystBot) -> None:
    rec = await slash(bot, "alerts", option("state", "on"))
    (reply,) = rec.replies()
    assert "`alerts` needs the Manage Server permission" in reply["content"]
    assert reply["ephemeral"] and bot.state_db.alerts.channels() == []
    rec = await slash(bot, "alerts")  # status: anyone, privately
    (reply,) = rec.replies()
    assert "Alerts are off here" in reply["content"] and reply["ephemeral"]


async def test_alerts_by_a_manager(bot: AnalystBot) -> None:
    rec = await slash(bot, "alerts", option("state", "on"), manager=True)
    (reply,) = rec.replies()
    assert "Alerts are on here" in reply["content"] and not reply.get("ephemeral")
    (entry,) = bot.state_db.alerts.channels()
    assert entry.channel_id == dpytest.get_config().channels[0].id
    rec = await slash(bot, "alerts", option("state", "status"))
    assert "Alerts are on here" in rec.text() and "None posted yet" in rec.text()
    assert f"alerts here: on, from the {entry.since} session" in (await slash(bot, "status")).text()
    rec = await slash(bot, "alerts", option("state", "off"), manager=True)
    assert "Alerts are off here" in rec.text() and bot.state_db.alerts.channels() == []
    assert "alerts here: off" in (await slash(bot, "status")).text()


async def test_alerts_on_without_send_messages_is_refused_with_the_reason(
    bot: AnalystBot,
) -> None:
    await overrides(send_messages=False)
    rec = await slash(bot, "alerts", option("state", "on"), manager=True)
    (reply,) = rec.replies()
    assert "I need the Send Messages permission in this channel" in reply["content"]
    assert reply["ephemeral"] and bot.state_db.alerts.channels() == []
    rec = await slash(bot, "alerts", option("state", "off"), manager=True)  # always allowed
    assert "Alerts are off here" in rec.text()


async def test_unknown_rule_is_answered_privately_before_deferring(bot: AnalystBot) -> None:
    rec = await slash(bot, "explain", option("rule", "moon phase"))
    assert rec.log[0]["via"] == "response"  # not deferred publicly first
    assert rec.log[0]["ephemeral"] and "no rule called 'moon phase'" in rec.log[0]["content"]
    rec = await slash(bot, "explain", option("rule", "Golden_Setup"))
    embeds = [e for entry in rec.replies() for e in entry.get("embeds", [])]
    assert "Golden_Setup" in (embeds[0].title or "")
    # The nickname works as it does for !explain: one lookup for both.
    rec = await slash(bot, "explain", option("rule", "golden setup"))
    embeds = [e for entry in rec.replies() for e in entry.get("embeds", [])]
    assert "Golden_Setup" in (embeds[0].title or "")


async def test_slash_cooldown_is_private(settings: Settings) -> None:
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=60))
    try:
        await slash(client, "status")
        rec = await slash(client, "status")
        (reply,) = rec.replies()
        assert "Please wait" in reply["content"] and reply["ephemeral"]
    finally:
        client.state_db.close()


async def test_missing_embed_links_is_named(bot: AnalystBot) -> None:
    await overrides(embed_links=False)
    rec = await slash(bot, "forecast")
    (reply,) = rec.replies()
    assert "I need the Embed Links permission" in reply["content"] and reply["ephemeral"]
    rec = await slash(bot, "schedule", option("state", "on"), manager=True)
    assert "Embed Links" in rec.text() and bot.state_db.schedules() == []


async def test_missing_attach_files_for_the_chart(bot: AnalystBot) -> None:
    await overrides(attach_files=False)
    rec = await slash(bot, "chart")
    assert "I need the Attach Files permission" in rec.text()


# --- errors after a public "thinking…" placeholder stay private -----------------------
@pytest_asyncio.fixture
async def broken_data(tmp_path: Path) -> AsyncIterator[AnalystBot]:
    """A bot whose data file is missing: every command fails after it has deferred."""
    missing = tmp_path / "gone.csv"
    client = await start_bot(
        load_settings(DISCORD_COOLDOWN_SECONDS=0, DISCORD_DATA_CSV=str(missing))
    )
    yield client
    await dpytest.empty_queue()
    client.state_db.close()


@pytest.mark.parametrize(
    ("name", "opts"),
    [("forecast", []), ("signals", []), ("gex", []), ("explain", [option("rule", "Golden_Setup")])],
)
async def test_an_error_after_a_public_defer_is_private(
    broken_data: AnalystBot, name: str, opts: list[dict[str, Any]]
) -> None:
    rec = await slash(broken_data, name, *opts)
    # the public placeholder is removed before the error, so the error is a new message
    assert rec.vias() == ["defer", "delete", "followup"], rec.log
    assert rec.log[0]["ephemeral"] is False
    (reply,) = rec.replies()
    assert reply["ephemeral"] is True and "file not found" in reply["content"]


async def test_status_is_deferred_privately(broken_data: AnalystBot) -> None:
    rec = await slash(broken_data, "status", manager=True)
    assert rec.vias() == ["defer", "followup"] and rec.log[0]["ephemeral"] is True
    assert "file not found" in rec.text() and rec.replies()[0]["ephemeral"]


async def test_status_parts_are_all_private(bot: AnalystBot) -> None:
    rec = await slash(bot, "status", manager=True)
    assert rec.log[0] == {"via": "defer", "ephemeral": True}
    assert "setup:" in rec.text() and all(e["ephemeral"] for e in rec.replies())


async def test_an_error_after_the_first_message_leaves_it_in_place(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.errors import AnalystError

    def fail(*args: Any) -> None:
        raise AnalystError("the forecast could not be remembered")

    monkeypatch.setattr(bot.state_db, "remember_forecast", fail)
    rec = await slash(bot, "forecast")
    assert "delete" not in rec.vias()  # the report filled the placeholder: it stays
    first, error = rec.replies()
    assert first.get("embeds") and "could not be remembered" in error["content"]
    assert error["ephemeral"] is True


async def test_ask_modal_error_after_deferring_is_private(broken_data: AnalystBot) -> None:
    modal = AskModal(dt.date(2025, 12, 31), 500)
    modal.question._value = "why is GEX_Negative not firing?"
    inter, rec = interaction(broken_data, {"custom_id": modal.custom_id}, kind=5)
    await modal.on_submit(inter)
    assert rec.vias() == ["defer", "delete", "followup"], rec.log
    (reply,) = rec.replies()
    assert reply["ephemeral"] is True and "file not found" in reply["content"]


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


# --- gex ----------------------------------------------------------------------------
async def test_slash_gex_shows_series_walls_and_expected_move(bot: AnalystBot) -> None:
    rec = await slash(bot, "gex")
    text = rec.text()
    assert "Net GEX: $" in text and "per 1% move" in text and "demo (synthetic)" in text
    assert "Call wall:" in text and "Put wall:" in text and "Zero-gamma flip:" in text
    assert "Expected move, tomorrow: 68% " in text and "Expected move, 5 days" in text
    assert "GEX by expiry" not in text  # no chain is known


@pytest.mark.skipif(not CHAIN.exists(), reason="the shared option-chain file is not here")
async def test_prefix_gex_with_a_known_chain(settings: Settings) -> None:
    client = await start_bot(
        load_settings(DISCORD_COOLDOWN_SECONDS=0, DISCORD_CHAIN_FILE=str(CHAIN))
    )
    try:
        await dpytest.message("!gex")
        text = "\n".join(m.content for m in sent())
        assert "GEX by expiry (the 5 largest)" in text and "2026-07-17" in text
        assert "IWM option chain as of 2026-07-12" in text and "Call wall: 300.00" in text
    finally:
        client.state_db.close()


async def test_bad_chain_file_is_logged_not_shown(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "chain.json"
    bad.write_text("{}", encoding="utf-8")
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=0, DISCORD_CHAIN_FILE=str(bad)))
    try:
        await dpytest.message("!gex")
        text = "\n".join(m.content for m in sent())
        assert "Net GEX" in text and "DISCORD_CHAIN_FILE" not in text
        assert "DISCORD_CHAIN_FILE" in caplog.text
    finally:
        client.state_db.close()


# --- operator notes: managers only -------------------------------------------------
async def test_status_shows_setup_notes_to_managers_only(bot: AnalystBot) -> None:
    member_view = (await slash(bot, "status")).text()
    manager_view = (await slash(bot, "status", manager=True)).text()
    for hint in ("OPENAI_API_KEY", "iwm-analyst", "--csv", "DISCORD_CHAIN_FILE"):
        assert hint not in member_view
    assert "OPENAI_API_KEY" in manager_view and "iwm-analyst update" in manager_view
    assert "narrator: offline template" in member_view


def test_for_members() -> None:
    assert for_members(NO_KEY_NOTE) == "written by the offline template"
    behind = (
        "prices in the store end on 2026-01-01, 3 trading days before the last session "
        "(2026-01-06): run 'iwm-analyst update'"
    )
    assert for_members(behind) == (
        "prices in the store end on 2026-01-01, 3 trading days before the last session (2026-01-06)"
    )
    assert for_members("Use your own data with --csv FILE.") == ""
    plain = "RSI_Extreme fires: RSI 80.9 is above 75. GEX_Negative does not."
    assert for_members(plain) == plain


# --- prefix schedule -------------------------------------------------------------------
async def test_prefix_schedule_without_argument_shows_the_setting(bot: AnalystBot) -> None:
    config = dpytest.get_config()
    config.guilds[0].owner_id = config.members[0].id  # the owner holds every permission
    await dpytest.message("!schedule")
    assert "No morning post is set here" in dpytest.get_message().content
    assert bot.state_db.schedules() == []
    channel = config.channels[0]
    bot.state_db.set_schedule(Schedule(channel.id, channel.guild.id, dt.time(8, 30), "UTC"))
    await dpytest.message("!schedule")
    assert "08:30 UTC" in dpytest.get_message().content
    with contextlib.suppress(commands.CommandError):
        await dpytest.message("!schedule on 08:30 EST")
    assert "use America/New_York" in dpytest.get_message().content
    assert bot.state_db.schedules()[0].tz == "UTC"
