"""Hard deadlines: a trickling or hanging model never keeps a person waiting past it.

The loopback model sends its body one byte every two seconds (``trickle``) or never
answers (``hang``). A deadline is a promise to the person waiting, so these tests do
assert on time: every answer comes within the deadline plus :data:`SLACK` seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend

from bot.narrator.cache import ReplyCache
from bot.narrator.deadline import Deadline
from bot.service import DataRequest
from bot.settings import Settings
from engine.state import MarketState
from tests.bot.fake_openai import FakeOpenAI, Reply, completion
from tests.bot.test_discord import start_bot
from tests.bot.test_llm import good, model_settings, service

DEMO = DataRequest(demo=True)
DEADLINE = 2.0
SLACK = 2.0
TRICKLE = 2.0  # seconds per byte


def deadline_settings(fake: FakeOpenAI, **extra: object) -> Settings:
    return model_settings(fake, LLM_DEADLINE_SECONDS=DEADLINE, OPENAI_TIMEOUT=30, **extra)


def trickling(state: MarketState) -> Reply:
    return Reply(body=good(state).body, trickle=TRICKLE)


@pytest.mark.parametrize("stream", [False, True])
def test_trickling_model_forecast_ends_at_the_deadline(
    fake: FakeOpenAI, demo_state: MarketState, stream: bool
) -> None:
    fake.default = trickling(demo_state)
    svc = service(deadline_settings(fake, OPENAI_STREAM=stream))
    svc.state(DEMO)  # the state is built before the clock starts
    started = time.monotonic()
    report = svc.forecast(DEMO)
    elapsed = time.monotonic() - started
    assert report.narrator == "offline" and "timed out" in report.notes[0]
    assert elapsed < DEADLINE + SLACK, f"{elapsed:.1f} s"
    assert fake.chat_requests()[0].get("stream", False) is stream


def test_trickling_model_answer_ends_at_the_deadline(fake: FakeOpenAI) -> None:
    fake.default = Reply(body=completion("The close is what it is."), trickle=TRICKLE)
    svc = service(deadline_settings(fake))
    svc.state(DEMO)
    started = time.monotonic()
    reply = svc.ask(DEMO, "what does the rsi say?")
    elapsed = time.monotonic() - started
    assert reply.source == "offline" and "timed out" in reply.notes[0]
    assert elapsed < DEADLINE + SLACK, f"{elapsed:.1f} s"


def test_a_deadline_given_by_the_front_end_is_kept(fake: FakeOpenAI) -> None:
    """Time spent before the model call (queueing, the chart) comes out of the deadline."""
    fake.default = Reply(hang=True)
    svc = service(model_settings(fake, LLM_DEADLINE_SECONDS=60))
    svc.state(DEMO)
    started = time.monotonic()
    report = svc.forecast(DEMO, deadline=Deadline.after(1.0))
    assert report.narrator == "offline"
    assert time.monotonic() - started < 1.0 + SLACK


def test_waiters_for_the_same_forecast_leave_at_their_deadline(
    fake: FakeOpenAI, demo_state: MarketState
) -> None:
    fake.default = Reply(hang=True)
    svc = service(deadline_settings(fake))
    svc.state(DEMO)
    times: list[float] = []
    narrators: list[str] = []

    def one() -> None:
        started = time.monotonic()
        narrators.append(svc.forecast(DEMO).narrator)
        times.append(time.monotonic() - started)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(fake.requests) == 1  # the others waited on the single flight, then left
    assert narrators == ["offline"] * 6
    assert max(times) < DEADLINE + SLACK, f"{max(times):.1f} s"


def test_single_flight_waits_no_longer_than_asked(tmp_path: Any) -> None:
    cache = ReplyCache(tmp_path / "c.sqlite3")
    entered = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with cache.single_flight("k") as mine:
            assert mine
            entered.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    entered.wait(5)
    with cache.single_flight("k", timeout=0.1) as mine:
        assert not mine
    release.set()
    t.join()
    with cache.single_flight("k", timeout=0.1) as mine:
        assert mine
    cache.close()


async def test_ten_concurrent_forecasts_against_a_hanging_model(
    fake: FakeOpenAI, demo_state: MarketState
) -> None:
    """Ten people ask at once while the model hangs; an eleventh asks for the signals."""
    fake.default = Reply(hang=True)
    settings = deadline_settings(fake, DISCORD_COOLDOWN_SECONDS=0)
    bot = await start_bot(settings, service(settings), members=11)
    req = bot.data_request()
    state = await bot.run_blocking(bot.service.state, req)  # warm, as on a busy morning
    await bot.run_blocking(bot.charts.get, bot.service.prepared(req), state)
    config = dpytest.get_config()
    channel = config.channels[0]
    answered: list[float] = []
    started = time.monotonic()
    original = discord.abc.Messageable.send

    async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        embeds = kwargs.get("embeds") or []
        if embeds and "forecast" in (embeds[0].title or ""):
            answered.append(time.monotonic() - started)
        return await original(self, *args, **kwargs)

    discord.abc.Messageable.send = timed  # type: ignore[method-assign]
    try:
        for member in config.members[:10]:
            backend.make_message("!forecast", member, channel)
        backend.make_message("!signals", config.members[10], channel)
        await dpytest.run_all_events()
    finally:
        discord.abc.Messageable.send = original  # type: ignore[method-assign]
    messages = []
    while not dpytest.sent_queue.empty():
        messages.append(await dpytest.sent_queue.get())
    assert len(answered) == 10
    assert max(answered) < DEADLINE + SLACK, f"{max(answered):.1f} s"
    assert any("Golden_Setup" in (m.content or "") for m in messages)
    assert len(fake.requests) == 1
    bot.state_db.close()
    await asyncio.sleep(0)


def test_budget_and_usage_still_recorded_when_streaming(
    fake: FakeOpenAI, demo_state: MarketState
) -> None:
    fake.default = good(demo_state)
    svc = service(model_settings(fake, OPENAI_STREAM=True))
    report = svc.forecast(DEMO)
    assert report.narrator == "model:test-model"
    body = fake.chat_requests()[0]
    assert body["stream"] is True and body["response_format"] == {"type": "json_object"}
    cache = ReplyCache(svc.settings.database)
    assert cache.tokens_on(dt.date(2026, 1, 2).isoformat()) == 180
    cache.close()
