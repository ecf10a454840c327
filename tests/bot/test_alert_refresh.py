"""The alert loop refreshes the local store once per NYSE session after the close.

The store holds real IWM and VIX closes (``shared/data/raw``) up to Wed 2023-10-18; a
loopback server stands in for Stooq and Cboe and has Thu 2023-10-19, when VIX closed at
21.40 after 19.22 (a crossing of the high-VIX threshold, 20). Yahoo, FINRA and the
option chain answer 404, so each refresh is partial. The clock is injected.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import discord.ext.test as dpytest
import pandas as pd
import pytest
import pytest_asyncio

from bot.discord_bot.app import AnalystBot
from bot.discord_bot.cogs.alerts import AlertsCog
from bot.discord_bot.refresh import Refresh
from bot.narrator.factory import NarratorChooser
from bot.service import AnalystService
from bot.settings import load_settings
from sources.providers.chain import ChainProvider
from sources.providers.finra import FinraProvider
from sources.providers.http import HttpConfig
from sources.providers.prices import PriceProvider
from sources.providers.vix import VixProvider
from sources.store import Store
from sources.update import Providers
from tests.bot.test_discord import sent, start_bot
from tests.sources.conftest import LoopbackServer, Reply, serve

NY = ZoneInfo("America/New_York")
BEFORE, UP = dt.date(2023, 10, 18), dt.date(2023, 10, 19)
FAST = HttpConfig(timeout=3.0, attempts=1, deadline=5.0, backoff_max=0.02, backoff_multiplier=0.01)


def ny(day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=NY).astimezone(dt.UTC)


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def _real(raw: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    prices = pd.read_csv(raw / "kittycapital_etf-seasonality" / "IWM.csv", parse_dates=["Date"])
    prices = prices[(prices["Date"] >= "2022-01-01") & (prices["Date"] <= pd.Timestamp(UP))]
    vix = pd.read_csv(raw / "noodles-rice_vix_dashboard" / "VIX_History.csv")
    vix["when"] = pd.to_datetime(vix["DATE"], format="%m/%d/%Y")
    vix = vix[(vix["when"] >= "2022-01-01") & (vix["when"] <= pd.Timestamp(UP))]
    return prices, vix


@pytest.fixture
def sources(raw_data_dir: Path) -> Iterator[LoopbackServer]:
    """Stooq's and Cboe's files, in their own formats, ending on UP."""
    prices, vix = _real(raw_data_dir)
    stooq = prices[["Date", "Open", "High", "Low", "Close", "Volume"]].to_csv(
        index=False, date_format="%Y-%m-%d"
    )
    cboe = vix[["DATE", "OPEN", "HIGH", "LOW", "CLOSE"]].to_csv(index=False)
    with serve() as server:
        server.route("/stooq", Reply(body=stooq.encode()))
        server.route("/VIX_History.csv", Reply(body=cboe.encode()))
        yield server


def _seed(database: Path, raw: Path) -> None:
    """The store as a cron ``update`` would have left it on the evening of BEFORE."""
    prices, vix = _real(raw)
    bars = prices[prices["Date"] <= pd.Timestamp(BEFORE)].set_index("Date")
    bars = bars.rename(columns=str.lower).assign(adj_close=lambda f: f["close"])
    closes = vix[vix["when"] <= pd.Timestamp(BEFORE)].set_index("when")[["CLOSE"]]
    with Store(database) as store:
        store.upsert("prices", bars.rename_axis("date"), source="test")
        store.upsert("vix", closes.rename(columns={"CLOSE": "close"}).rename_axis("date"),
                     source="test")  # fmt: skip


@pytest_asyncio.fixture
async def bot(sources: LoopbackServer, raw_data_dir: Path) -> AsyncIterator[AnalystBot]:
    settings = load_settings(DISCORD_COOLDOWN_SECONDS=0, DISCORD_REFRESH_SECONDS=20)
    _seed(settings.database, raw_data_dir)
    clock = Clock(ny(UP, 16, 20))
    url = sources.url
    providers = Providers(
        prices=PriceProvider(yahoo_url=url("/chart/{symbol}"), stooq_url=url("/stooq"), http=FAST),
        vix=VixProvider(
            cboe_url=url("/VIX_History.csv"), yahoo_url=url("/chart/{symbol}"), http=FAST
        ),
        dark_pool=FinraProvider(
            url_template=url("/finra/CNMSshvol{ymd}.txt"),
            cache_dir=settings.database.parent / "finra",
            http=FAST,
        ),
        chain=ChainProvider(url=url("/options/{symbol}.json"), http=FAST),
    )
    service = AnalystService(
        settings, narrator_factory=NarratorChooser(clock), providers=lambda: providers, clock=clock
    )
    client = await start_bot(settings, service)
    client.clock = clock
    yield client
    await dpytest.empty_queue()
    client.state_db.close()


def cog(bot: AnalystBot) -> AlertsCog:
    found = bot.get_cog("AlertsCog")
    assert type(found).__name__ == "AlertsCog"
    return found  # type: ignore[return-value]


def opt_in(bot: AnalystBot) -> None:
    channel = dpytest.get_config().channels[0]
    bot.state_db.alerts.set_channel(channel.id, channel.guild.id, True, UP, bot.clock())


async def test_the_evening_tick_refreshes_then_alerts_once(
    bot: AnalystBot, sources: LoopbackServer
) -> None:
    opt_in(bot)
    alerts = cog(bot)
    bot.clock.at = ny(UP, 16, 5)  # type: ignore[attr-defined]
    await alerts.tick()  # before 16:15: the session before is refreshed; nothing new
    assert sources.count("/stooq") == 1 and sent() == []
    bot.clock.at = ny(UP, 16, 20)  # type: ignore[attr-defined]
    assert await alerts.tick() == 1
    (message,) = sent()
    assert "VIX" in message.content and "21.4" in message.content
    with Store(bot.settings.database) as store:
        assert store.last_date("prices") == UP and store.last_date("vix") == UP
    # FINRA and the chain failed: the next tick tries again, and posts nothing twice.
    bot.clock.at = ny(UP, 16, 25)  # type: ignore[attr-defined]
    assert await alerts.tick() == 0
    assert sources.count("/stooq") == 3 and sent() == []


async def test_a_partial_refresh_is_given_up_after_its_attempts(
    bot: AnalystBot, sources: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    opt_in(bot)
    alerts = cog(bot)
    # the loaded extension's module, not the one imported here
    monkeypatch.setitem(type(alerts).refresh.__globals__, "REFRESH_ATTEMPTS", 2)
    assert await alerts.refresh() is Refresh.PARTIAL
    assert await alerts.refresh() is Refresh.PARTIAL
    assert await alerts.refresh() is None and sources.count("/stooq") == 2


async def test_no_refresh_without_alert_channels_or_on_a_holiday(
    bot: AnalystBot, sources: LoopbackServer
) -> None:
    alerts = cog(bot)
    assert await alerts.tick() == 0 and sources.count() == 0  # no channel has alerts on
    opt_in(bot)
    bot.clock.at = ny(dt.date(2023, 11, 23), 17, 0)  # type: ignore[attr-defined]  # Thanksgiving
    assert await alerts.tick() == 0 and sources.count() == 0


async def test_a_complete_refresh_is_not_repeated_in_the_session(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    days: list[dt.date] = []

    def refresh(day: dt.date, seconds: float | None = None) -> Any:
        days.append(day)
        return None  # nothing to refresh counts as done

    monkeypatch.setattr(bot.service, "refresh_store", refresh)
    opt_in(bot)
    for minute in (20, 25, 30):
        bot.clock.at = ny(UP, 16, minute)  # type: ignore[attr-defined]
        await cog(bot).tick()
    bot.clock.at = ny(dt.date(2023, 10, 20), 16, 15)  # type: ignore[attr-defined]
    await cog(bot).tick()
    assert days == [UP, dt.date(2023, 10, 20)]
    sent()


async def test_a_failed_refresh_is_tried_on_the_next_tick(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dt.date] = []

    def refresh(day: dt.date, seconds: float | None = None) -> Any:
        calls.append(day)
        if len(calls) == 1:
            raise OSError("disk full")
        return None

    monkeypatch.setattr(bot.service, "refresh_store", refresh)
    opt_in(bot)
    assert await cog(bot).refresh() is Refresh.FAILED
    assert await cog(bot).refresh() is Refresh.SKIPPED
    assert await cog(bot).refresh() is None
    assert calls == [UP, UP]
    sent()


async def test_two_callers_share_one_refresh(
    bot: AnalystBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The morning post and the alert loop at once: one refresh runs, both wait for it;
    one that overran its deadline keeps the lock until its thread ends."""
    release = threading.Event()
    running = threading.Semaphore(0)
    calls: list[float] = []

    def slow(day: dt.date, seconds: float | None = None) -> None:
        calls.append(seconds or 0.0)
        running.release()
        release.wait(30)

    monkeypatch.setattr(bot.service, "refresh_store", slow)
    monkeypatch.setattr("bot.discord_bot.refresh.REFRESH_SLACK_SECONDS", 0.0)
    monkeypatch.setattr(bot.settings, "discord_refresh_seconds", 0.3)
    refresher = bot.refresher
    first = asyncio.create_task(refresher.run(UP, "first"))
    second = asyncio.create_task(refresher.run(UP, "second"))
    assert await first is Refresh.FAILED and await second is Refresh.FAILED
    assert refresher.running and len(calls) == 1  # timed out; the thread still runs
    assert await refresher.run(UP, "third") is Refresh.FAILED and len(calls) == 1
    release.set()
    for _ in range(100):
        if not refresher.running:
            break
        await asyncio.sleep(0.02)
    assert not refresher.running
    monkeypatch.setattr(bot.service, "refresh_store", lambda day, seconds=None: None)
    assert await refresher.run(UP, "after") is Refresh.SKIPPED
