"""A harness for slash commands, buttons and modals through real interactions.

dpytest simulates the gateway for prefix commands only, so an interaction here is a
real :class:`discord.Interaction` built from the payload Discord sends, on dpytest's
connection state, and dispatched by the bot's own command tree. Only its two outgoing
channels (the response and the follow-up webhook) are recorded instead of sent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest_asyncio

from bot.discord_bot.app import AnalystBot
from bot.discord_bot.buttons import ForecastButton
from bot.settings import load_settings
from tests.bot.test_discord import start_bot

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


@pytest_asyncio.fixture(name="bot")
async def bot_fixture() -> AsyncIterator[AnalystBot]:
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=0))
    yield client
    await dpytest.empty_queue()
    client.state_db.close()


async def overrides(**perms: bool) -> None:
    channel = dpytest.get_config().channels[0]
    await dpytest.set_permission_overrides(channel.guild.default_role, channel, **perms)
