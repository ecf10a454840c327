"""Alerts in Discord: opt-in, exactly once per channel, failing sends, restarts.

The data is real (IWM and VIX closes from ``shared/data/raw``) cut at a chosen session:
on Thu 2023-10-19 VIX closed at 21.40 after 19.22 (a crossing of the high-VIX
threshold, 20), and on Tue 2023-10-24 it fell back to 18.97.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pandas as pd
import pytest
import pytest_asyncio
from discord.ext import commands

from bot import wiring
from bot.alerts import latest_alerts
from bot.discord_bot.app import AnalystBot
from bot.discord_bot.cogs.alerts import LEASE, MAX_ATTEMPTS, AlertsCog
from bot.discord_bot.persist import BotState, LeaseLost
from bot.service import DataRequest
from bot.settings import load_settings
from tests.bot.test_discord import sent, start_bot

UP, DOWN = dt.date(2023, 10, 19), dt.date(2023, 10, 24)


def evening(day: dt.date) -> dt.datetime:
    """22:00 UTC: after that day's NYSE close."""
    return dt.datetime.combine(day, dt.time(22, 0), tzinfo=dt.UTC)


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def write_data(raw_data_dir: Path, tmp_path: Path) -> Callable[[dt.date], Path]:
    """A prices file with a VIX column, ending on a given session (written to tmp)."""
    prices = pd.read_csv(raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv")
    prices["Date"] = pd.to_datetime(prices["Date"])
    vix = pd.read_csv(raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv")
    vix["DATE"] = pd.to_datetime(vix["DATE"], format="%m/%d/%Y")
    both = prices.merge(
        vix[["DATE", "CLOSE"]].rename(columns={"DATE": "Date", "CLOSE": "vix"}), on="Date"
    )
    path = tmp_path / "iwm_vix.csv"

    def write(last: dt.date) -> Path:
        cut = both[(both["Date"] >= "2022-01-01") & (both["Date"] <= pd.Timestamp(last))]
        cut.to_csv(path, index=False, date_format="%Y-%m-%d")
        return path

    return write


@pytest_asyncio.fixture
async def bot(write_data: Callable[[dt.date], Path]) -> AsyncIterator[AnalystBot]:
    settings = load_settings(DISCORD_COOLDOWN_SECONDS=0, DISCORD_DATA_CSV=str(write_data(UP)))
    clock = Clock(evening(UP))
    client = await start_bot(settings, wiring.service(settings, clock=clock))
    client.clock = clock
    yield client
    await dpytest.empty_queue()
    client.state_db.close()


def cog(bot: AnalystBot) -> AlertsCog:
    # load_extension runs the module afresh: its class is not the one imported here
    found = bot.get_cog("AlertsCog")
    assert type(found).__name__ == "AlertsCog"
    return found  # type: ignore[return-value]


def channel() -> discord.TextChannel:
    return dpytest.get_config().channels[0]  # type: ignore[no-any-return]


def set_time(bot: AnalystBot, at: dt.datetime) -> None:
    bot.clock.at = at  # type: ignore[attr-defined]


def opt_in(bot: AnalystBot) -> None:
    ch = channel()
    bot.state_db.alerts.set_channel(ch.id, ch.guild.id, True, UP, bot.clock())


async def say(content: str) -> str:
    with contextlib.suppress(commands.CommandError):
        await dpytest.message(content)
    replies = sent()
    return replies[0].content if replies else ""


def test_latest_alerts_only_for_the_latest_session(write_data: Callable[[dt.date], Path]) -> None:
    settings = load_settings(DISCORD_DATA_CSV=str(write_data(UP)))
    clock = Clock(evening(UP))
    service = wiring.service(settings, clock=clock)
    req = DataRequest(csv=settings.discord_data_csv)
    found = latest_alerts(service, req)
    assert found.session == UP and [e.key for e in found.events] == ["vix_cross"]
    assert "VIX rose to 21.40" in found.events[0].text
    clock.at = evening(dt.date(2023, 10, 20))  # a session later, the data did not follow
    later = latest_alerts(service, req)
    assert (
        later.events == ()
        and later.reason == "the data ends on 2023-10-19, not on the last session"
    )
    assert latest_alerts(service, DataRequest(demo=True)).reason == "the data is the synthetic demo"


async def test_command_permissions_and_status(bot: AnalystBot) -> None:
    assert "Manage Server" in await say("!alerts on")
    assert bot.state_db.alerts.channels() == []
    assert "Alerts are off here" in await say("!alerts")
    config = dpytest.get_config()
    config.guilds[0].owner_id = config.members[0].id  # the owner holds every permission
    reply = await say("!alerts on")
    assert "Alerts are on here" in reply and "From the 2023-10-19 session" in reply
    assert "threshold (20)" in reply
    (entry,) = bot.state_db.alerts.channels()
    assert entry.channel_id == channel().id and entry.since == UP
    assert "None posted yet" in await say("!alerts status")
    assert "use `alerts on`" in await say("!alerts maybe")
    assert "Alerts are off here" in await say("!alerts off")
    assert bot.state_db.alerts.channels() == []


async def test_posted_once_across_checks_and_a_restart(bot: AnalystBot) -> None:
    opt_in(bot)
    assert await cog(bot).check() == 1
    (message,) = sent()
    assert message.content.startswith("🌡️ **IWM alert, Thu 19 Oct 2023**: VIX rose to 21.40")
    assert await cog(bot).check() == 0 and sent() == []
    assert "vix_cross" in await say("!alerts status")
    # a restart: a new process (new lease owner) on the same database
    path = bot.settings.database
    bot.state_db.close()
    bot.state_db = BotState(path)
    assert await AlertsCog(bot).check() == 0 and sent() == []
    assert bot.state_db.alerts.state(channel().id, UP, "vix_cross") == "delivered"


async def test_no_replay_of_history_when_opting_in(
    bot: AnalystBot, write_data: Callable[[dt.date], Path]
) -> None:
    set_time(bot, evening(dt.date(2023, 10, 20)))
    ch = channel()
    bot.state_db.alerts.set_channel(ch.id, ch.guild.id, True, dt.date(2023, 10, 20), bot.clock())
    assert await cog(bot).check() == 0  # the data ends on the 19th: old news
    write_data(DOWN)
    set_time(bot, evening(DOWN))
    assert await cog(bot).check() == 1
    (message,) = sent()
    assert "fell to 18.97" in message.content
    assert bot.state_db.alerts.state(ch.id, UP, "vix_cross") is None


class _Response:
    status = 503
    reason = "Service Unavailable"


@pytest.fixture
def failing_sends(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Sends fail while ``left["n"]`` > 0 (or always, when negative)."""
    left = {"n": 0}
    original = discord.abc.Messageable.send

    async def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        if left["n"] != 0:
            left["n"] -= 1
            raise discord.HTTPException(_Response(), "unavailable")  # type: ignore[arg-type]
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(discord.abc.Messageable, "send", send)
    return left


async def test_a_failing_send_is_retried_then_posted_once(
    bot: AnalystBot, failing_sends: dict[str, int]
) -> None:
    # A 503 may have landed: each retry reads the channel (dpytest needs one message).
    await dpytest.message("good evening")
    opt_in(bot)
    failing_sends["n"] = 2
    assert await cog(bot).check() == 0
    assert await cog(bot).check() == 0
    assert bot.state_db.alerts.state(channel().id, UP, "vix_cross") == "claimed"
    assert await cog(bot).check() == 1
    assert len(sent()) == 1
    assert await cog(bot).check() == 0 and sent() == []


async def test_a_send_that_always_fails_is_given_up(
    bot: AnalystBot, failing_sends: dict[str, int]
) -> None:
    # A 503 may have landed: each retry reads the channel (dpytest needs one message).
    await dpytest.message("good evening")
    opt_in(bot)
    failing_sends["n"] = -1
    for _ in range(MAX_ATTEMPTS + 3):
        await cog(bot).check()
    assert failing_sends["n"] == -1 - MAX_ATTEMPTS  # tried exactly MAX_ATTEMPTS times
    assert bot.state_db.alerts.state(channel().id, UP, "vix_cross") == "failed"
    failing_sends["n"] = 0
    assert await cog(bot).check() == 0 and sent() == []


async def test_no_send_permission_backs_off_and_logs_once(
    bot: AnalystBot, caplog: pytest.LogCaptureFixture
) -> None:
    opt_in(bot)
    ch = channel()
    await dpytest.set_permission_overrides(ch.guild.default_role, ch, send_messages=False)
    with caplog.at_level(logging.WARNING, logger="bot.discord_bot.cogs.alerts"):
        for _ in range(3):
            assert await cog(bot).check() == 0
    assert sum("missing Send Messages" in r.message for r in caplog.records) == 1
    assert bot.state_db.alerts.state(ch.id, UP, "vix_cross") is None  # nothing claimed
    await dpytest.set_permission_overrides(ch.guild.default_role, ch, send_messages=True)
    assert await cog(bot).check() == 1


async def test_a_crash_after_the_send_is_not_posted_twice(bot: AnalystBot) -> None:
    """The previous process claimed, sent, and died before recording the message."""
    opt_in(bot)
    first = AlertsCog(bot)
    assert await first.check() == 1
    assert len(sent()) == 1
    # put the alert back in the state of a claim whose owner died after sending
    conn = bot.state_db._conn
    conn.execute(
        "UPDATE bot_alert_posts SET state = 'claimed', message_id = NULL, owner = 'dead', "
        "lease_until = ?",
        ((bot.clock() + LEASE).isoformat(),),
    )
    conn.commit()
    assert await cog(bot).check() == 0  # the dead owner's lease still holds
    set_time(bot, bot.clock() + LEASE + dt.timedelta(seconds=1))
    assert await cog(bot).check() == 0
    assert sent() == []
    assert bot.state_db.alerts.state(channel().id, UP, "vix_cross") == "delivered"


def test_records_across_restarts(tmp_path: Path) -> None:
    now = evening(UP)
    db = tmp_path / "bot.db"
    state = BotState(db)
    records = state.alerts
    claim = records.claim(1, UP, "vix_cross", "text", "a", now, LEASE)
    assert claim is not None and not claim.resumed
    assert records.claim(1, UP, "vix_cross", "text", "b", now, LEASE) is None  # leased
    assert records.release(claim, now) == 1
    again = records.claim(1, UP, "vix_cross", "text", "a", now, LEASE)
    assert again is not None and not again.resumed and again.attempts == 1
    assert records.release(again, now) == 2
    other = records.claim(1, UP, "vix_cross", "text", "b", now, LEASE)  # lease let go
    assert other is not None and other.resumed and other.attempts == 2
    with pytest.raises(LeaseLost):
        records.mark_delivered(again, 41)  # "a" lost the lease to "b"
    again = other
    records.mark_delivered(again, 42)
    state.close()
    reopened = BotState(db)
    assert reopened.alerts.claim(1, UP, "vix_cross", "text", "c", now + LEASE * 10, LEASE) is None
    assert reopened.alerts.delivered(1) == [(UP, "vix_cross", "text")]
    # turning alerts on again after off moves the first session forward; on twice does not
    on = reopened.alerts.set_channel(1, 9, True, UP, now)
    assert reopened.alerts.set_channel(1, 9, True, DOWN, now).since == on.since == UP
    reopened.alerts.set_channel(1, 9, False, DOWN, now)
    assert reopened.alerts.set_channel(1, 9, True, DOWN, now).since == DOWN
    reopened.close()


async def test_a_send_that_timed_out_after_landing_is_not_posted_twice(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discord took the message but the reply never came: the retry reads the channel."""
    opt_in(bot)
    original = discord.abc.Messageable.send
    calls = {"n": 0}

    async def landed_then_timed_out(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        await original(self, *args, **kwargs)
        if calls["n"] == 1:
            raise TimeoutError

    monkeypatch.setattr(discord.abc.Messageable, "send", landed_then_timed_out)
    assert await cog(bot).check() == 0
    assert len(sent()) == 1
    # The host clock runs 30 s ahead of Discord's message time: still found.
    set_time(bot, bot.clock() + dt.timedelta(seconds=30))
    assert await cog(bot).check() == 0
    assert sent() == [] and calls["n"] == 1
    assert bot.state_db.alerts.state(channel().id, UP, "vix_cross") == "delivered"


def test_an_uncertain_release_makes_the_next_claim_resumed(tmp_path: Path) -> None:
    now = evening(UP)
    state = BotState(tmp_path / "bot.db")
    records = state.alerts
    claim = records.claim(1, UP, "vix_cross", "text", "a", now, LEASE)
    assert claim is not None
    records.release(claim, now)  # refused by Discord: nothing landed
    again = records.claim(1, UP, "vix_cross", "text", "a", now, LEASE)
    assert again is not None and not again.resumed
    records.release(again, now, uncertain=True)  # timed out: it may have landed
    third = records.claim(1, UP, "vix_cross", "text", "a", now, LEASE)
    assert third is not None and third.resumed and third.attempts == 2
    state.close()


async def test_the_data_request_is_built_off_the_event_loop(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a refresh, building the request may rebuild the dataset (hundreds of ms):
    it runs in a worker thread, never on the loop that serves every channel."""
    opt_in(bot)
    original = bot.data_request
    threads: list[str] = []

    def recording() -> DataRequest:
        threads.append(threading.current_thread().name)
        return original()

    monkeypatch.setattr(bot, "data_request", recording)
    assert await cog(bot).check() == 1
    assert threads and threading.main_thread().name not in threads
