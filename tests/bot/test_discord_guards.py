"""Cooldowns charged after parsing, per-user memory, safe text in every Discord path."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest_asyncio
from discord.ext import commands

from bot.discord_bot.app import AnalystBot
from bot.discord_bot.embeds import MAX_REPORT_MESSAGES, batches, text_embeds
from bot.narrator.safety import ZWSP
from bot.settings import load_settings
from tests.bot.fake_openai import FakeOpenAI, Reply, completion
from tests.bot.test_discord import sent, start_bot
from tests.bot.test_llm import model_settings, service

RATE_LIMITED = ("forecast", "ask", "audit", "explain", "scorecard", "signals", "chart", "status")


@pytest_asyncio.fixture
async def slow_bot() -> AsyncIterator[AnalystBot]:
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=60), members=2)
    yield client
    await dpytest.empty_queue()
    client.state_db.close()


async def say(content: str, member: int = 0) -> list[str]:
    with contextlib.suppress(commands.CommandError):
        await dpytest.message(content, member=member)
    return [m.content or "" for m in sent()]


def test_every_costly_command_has_a_cooldown_charged_after_parsing(slow_bot: AnalystBot) -> None:
    for name in RATE_LIMITED:
        command = slow_bot.get_command(name)
        assert command is not None, name
        assert command._buckets.valid and command.cooldown_after_parsing, name


async def test_a_bare_ask_does_not_spend_the_cooldown(slow_bot: AnalystBot) -> None:
    assert any("Usage" in r for r in await say("!ask"))
    replies = await say("!ask why is GEX_Negative bullish?")
    assert any("GEX_Negative" in r for r in replies)
    assert any("Please wait" in r for r in await say("!ask and Golden_Setup?"))


async def test_bad_input_gives_the_turn_back(slow_bot: AnalystBot) -> None:
    assert any("no rule called" in r for r in await say("!explain moon phase"))
    assert any("limited to" in r for r in await say("!ask " + "why " * 200))
    await dpytest.message("!explain golden setup")  # not on cooldown: answered
    assert "Golden_Setup" in (dpytest.get_embed().title or "")
    assert any("GEX_Negative" in r for r in await say("!ask why is GEX_Negative bullish?"))
    assert any("Please wait" in r for r in await say("!explain golden setup"))


async def test_cooldowns_are_per_user(slow_bot: AnalystBot) -> None:
    await say("!status", member=0)
    assert not any("Please wait" in r for r in await say("!status", member=1))


async def test_cooldown_reply_is_ephemeral_for_slash_commands(slow_bot: AnalystBot) -> None:
    replies: list[dict[str, Any]] = []

    class Ctx:
        interaction = object()
        command = slow_bot.get_command("forecast")

        async def send(self, content: str, **kwargs: Any) -> None:
            replies.append({"content": content, **kwargs})

    cooldown = commands.Cooldown(1, 60)
    error = commands.CommandOnCooldown(cooldown, 42.0, commands.BucketType.user)
    await slow_bot.on_command_error(Ctx(), error)  # type: ignore[arg-type]
    assert replies == [{"content": "⏳ Please wait 42 s before asking again.", "ephemeral": True}]


async def test_conversations_are_per_user_and_per_channel(fake: FakeOpenAI) -> None:
    fake.default = Reply(body=completion("The regime is calm."))
    settings = model_settings(fake, DISCORD_COOLDOWN_SECONDS=0)
    bot = await start_bot(settings, service(settings), members=2)
    try:
        await dpytest.message("!ask remember the word PINEAPPLE", member=0)
        await dpytest.message("!ask what word did I say?", member=1)
        await dpytest.message("!ask and what word did I say?", member=0)
        sent()
        prompts = [
            " ".join(str(m["content"]) for m in body["messages"]) for body in fake.chat_requests()
        ]
        assert "PINEAPPLE" not in prompts[1]  # another user's turns never reach a prompt
        assert "PINEAPPLE" in prompts[2]  # the same user's do
        for body in fake.chat_requests():
            roles = [m["role"] for m in body["messages"] if "word" in str(m["content"])]
            assert set(roles) <= {"user"}  # questions only ever as user messages
    finally:
        await dpytest.empty_queue()
        bot.state_db.close()


def test_embeds_neutralise_mentions_and_stay_bounded() -> None:
    embeds = text_embeds("@everyone title", "hi <@&123> @here\n" + "word " * 40_000, footer="@here")
    text = " ".join((e.title or "") + (e.description or "") for e in embeds)
    assert "@everyone" not in text and "@here" not in text and "<@&" not in text
    assert f"@{ZWSP}everyone" in text
    assert embeds[-1].footer.text == f"@{ZWSP}here"
    assert len(batches(embeds)) <= MAX_REPORT_MESSAGES


async def test_echoed_input_cannot_ping(slow_bot: AnalystBot) -> None:
    replies = await say("!explain @everyone <@&1>")
    assert replies and all("@everyone" not in r and "<@&" not in r for r in replies)


async def test_forecast_without_attach_files_sends_a_note(slow_bot: AnalystBot) -> None:
    channel = dpytest.get_config().channels[0]
    await dpytest.set_permission_overrides(channel.guild.default_role, channel, attach_files=False)
    await dpytest.message("!forecast")
    messages = sent()
    assert any(m.embeds for m in messages) and not any(m.attachments for m in messages)
    assert "Attach Files" in (messages[-1].content or "")
    assert any("Attach Files" in r for r in await say("!chart", member=1))
    assert isinstance(channel, discord.TextChannel)
