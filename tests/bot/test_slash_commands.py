"""Slash commands: what Discord shows, autocomplete, checks with their real reasons, private
errors, /gex, operator notes and the prefix schedule (harness: ``slash_harness``)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from discord.ext import commands

from bot.discord_bot.app import AnalystBot
from bot.discord_bot.buttons import AskModal
from bot.discord_bot.guards import for_members
from bot.discord_bot.persist import Schedule
from bot.narrator.factory import NO_KEY_NOTE
from bot.settings import Settings, load_settings
from engine.rules import load_playbook
from tests.bot import slash_harness
from tests.bot.slash_harness import (
    complete,
    interaction,
    option,
    overrides,
    slash,
)
from tests.bot.test_discord import sent, start_bot

bot = slash_harness.bot_fixture  # the fixture the tests take as ``bot``
CHAIN = Path("/work/shared/data/raw/daggerok_options-desk/IWM_chain_2026-07-12.json")


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
