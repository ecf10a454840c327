"""Members never read operator hints (CLI commands, settings) in the bot's answers (issue 14)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import discord.ext.test as dpytest
import pytest_asyncio

from bot.discord_bot.app import AnalystBot
from bot.narrator.factory import NarratorChooser
from bot.service import AnalystService
from bot.settings import Settings, load_settings
from tests.bot.fake_openai import FakeOpenAI, Reply
from tests.bot.test_discord import sent, start_bot

#: What only the person running the bot can act on.
HINT = re.compile(r"iwm-analyst|OPENAI_|LLM_|DISCORD_|--[a-z]|\.env\b")


@pytest_asyncio.fixture
async def bot(settings: Settings) -> AsyncIterator[AnalystBot]:
    client = await start_bot(load_settings(DISCORD_COOLDOWN_SECONDS=0))
    yield client
    await dpytest.empty_queue()
    client.state_db.close()


async def ask(text: str) -> str:
    await dpytest.message(text)
    return "\n".join(m.content for m in sent())


async def test_offline_answers_carry_no_operator_hints(bot: AnalystBot) -> None:
    wall = await ask("!ask what is the call wall?")
    assert "no call wall" in wall and not HINT.search(wall)
    joke = await ask("!ask tell me a joke")
    assert "I can answer" in joke and not HINT.search(joke)
    assert "without a model" in joke  # the answer itself is kept


async def test_a_model_timeout_is_told_without_the_settings(settings: Settings) -> None:
    fake = FakeOpenAI().start()
    try:
        model = load_settings(
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=fake.base_url,
            OPENAI_MODEL="test-model",
            OPENAI_TIMEOUT=0.3,
            OPENAI_MAX_RETRIES=0,
            LLM_DEADLINE_SECONDS=2,
            DISCORD_COOLDOWN_SECONDS=0,
        )
        fake.default = Reply(hang=True)
        client = await start_bot(model, AnalystService(model, narrator_factory=NarratorChooser()))
        text = await ask("!ask tell me a joke")
        assert fake.requests, "the model was asked"
        assert "timed out" in text and not HINT.search(text)
        client.state_db.close()
    finally:
        fake.stop()


async def test_a_reply_to_the_forecast_is_filtered_too(bot: AnalystBot) -> None:
    await dpytest.message("!forecast")
    forecast = next(m for m in sent() if bot.state_db.is_forecast_message(m.id))
    config = dpytest.get_config()
    channel = config.channels[0]
    reply = await dpytest.message("where is the call wall?", channel=channel)
    reply.reference = forecast.to_reference()
    await dpytest.empty_queue()
    bot.dispatch("message", reply)
    await dpytest.run_all_events()
    text = "\n".join(m.content for m in sent())
    assert "no call wall" in text and not HINT.search(text)


async def test_a_managers_prefix_status_keeps_the_setup_out_of_the_channel(
    bot: AnalystBot,
) -> None:
    config = dpytest.get_config()
    config.guilds[0].owner_id = config.members[0].id  # the owner holds every permission
    await dpytest.message("!status")
    messages = sent()
    channel = [m.content for m in messages if m.channel.id == config.channels[0].id]
    dm = [m.content for m in messages if m.channel.id != config.channels[0].id]
    public = "\n".join(channel)
    assert "data as of" in public and "setup:" not in public and not HINT.search(public)
    assert "by DM" in public
    assert any("setup:" in text and "iwm-analyst" in text for text in dm)


# --- the Ask form repeats the question cleanly (item 3) ---------------------------------
async def test_the_ask_form_quotes_the_question_on_one_clean_line(bot: AnalystBot) -> None:
    from bot.discord_bot.buttons import AskModal
    from tests.bot.slash_harness import interaction

    modal = AskModal(dt.date(2025, 12, 31), 500)
    modal.question._value = "why?\n# FREE MONEY\n[free money](https://evil.example) @everyone"
    inter, rec = interaction(bot, {"custom_id": modal.custom_id, "components": []}, kind=5)
    await modal.on_submit(inter)
    first = rec.replies()[0]["content"]
    quote, _, answer = first.partition("\n")
    assert quote.startswith("> why? \\# FREE MONEY free money")
    assert "evil.example" not in first and "](" not in quote and "@everyone" not in first
    assert answer and not answer.startswith("#")


def test_the_ask_form_takes_no_more_than_discord_allows() -> None:
    from bot.discord_bot.buttons import AskModal

    assert AskModal(dt.date(2025, 12, 31), 10_000).question.max_length == 4000
    assert AskModal(dt.date(2025, 12, 31), 500).question.max_length == 500
