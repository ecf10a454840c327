"""Morning-post scheduling with an injected clock: weekends, holidays, DST, restarts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.discord_bot.persist import BotState, LeaseLost, Schedule
from bot.discord_bot.scheduler import decide, next_post
from sources.calendar import is_trading_day

NY = ZoneInfo("America/New_York")
GRACE = dt.timedelta(minutes=90)
DAILY = Schedule(channel_id=1, guild_id=9, at_time=dt.time(8, 30), tz="America/New_York")


def ny(y: int, m: int, d: int, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=NY).astimezone(dt.UTC)


def due(now: dt.datetime, last: dict[int, dt.date] | None = None) -> list[tuple[dt.date, bool]]:
    return [(d.day, d.missed) for d in decide(now, [DAILY], last or {}, is_trading_day, GRACE)]


def test_due_at_local_time_on_a_trading_day() -> None:
    assert due(ny(2025, 7, 3, 8, 29)) == []
    assert due(ny(2025, 7, 3, 8, 30)) == [(dt.date(2025, 7, 3), False)]
    assert due(ny(2025, 7, 3, 8, 30), {1: dt.date(2025, 7, 3)}) == []


@pytest.mark.parametrize(
    "day",
    [dt.date(2025, 7, 5), dt.date(2025, 7, 6), dt.date(2025, 7, 4), dt.date(2025, 11, 27)],
)
def test_no_post_on_weekends_and_nyse_holidays(day: dt.date) -> None:
    assert due(ny(day.year, day.month, day.day, 8, 45)) == []


@pytest.mark.parametrize("day", [dt.date(2025, 3, 10), dt.date(2025, 11, 3)])
def test_wall_clock_time_kept_across_dst(day: dt.date) -> None:
    # The Mondays after the spring-forward (03-09) and fall-back (11-02) changes.
    before = ny(day.year, day.month, day.day, 8, 29)
    at = ny(day.year, day.month, day.day, 8, 30)
    assert due(before) == [] and due(at) == [(day, False)]
    utc_hour = at.hour
    assert utc_hour == (12 if day.month == 3 else 13)


def test_restart_within_grace_posts_once_beyond_grace_skips() -> None:
    assert due(ny(2025, 7, 3, 9, 59)) == [(dt.date(2025, 7, 3), False)]
    assert due(ny(2025, 7, 3, 10, 1)) == [(dt.date(2025, 7, 3), True)]


def test_persisted_claims_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    day, lease = dt.date(2025, 7, 3), dt.timedelta(minutes=5)
    first = BotState(path)
    first.set_schedule(DAILY)
    now = ny(2025, 7, 3, 8, 31)
    unit = first.claim_post(1, day, "first", now, lease)
    assert unit is not None and unit.state == "claimed"
    first.close()
    second = BotState(path)  # the bot restarted (a new lease owner)
    assert second.schedules() == [DAILY]
    assert not second.claim_post(1, day, "second", ny(2025, 7, 3, 8, 33), lease)  # leased
    again = second.claim_post(1, day, "second", ny(2025, 7, 3, 8, 37), lease)  # expired
    assert again is not None and again.claimed_at == now
    with pytest.raises(LeaseLost):  # the first owner cannot write any more
        second.record_part(unit, "first", 0, 42, ny(2025, 7, 3, 8, 40))
    second.settle_post(again, "second", "delivered")
    assert second.last_posts() == {1: day}
    assert due(ny(2025, 7, 3, 8, 40), second.last_posts()) == []
    assert not second.claim_post(1, day, "third", ny(2025, 7, 3, 9, 0), lease)
    second.close()


def test_disabled_and_other_zones() -> None:
    off = Schedule(2, 9, dt.time(8, 30), "America/New_York", enabled=False)
    assert decide(ny(2025, 7, 3, 8, 45), [off], {}, is_trading_day, GRACE) == []
    tokyo = Schedule(3, 9, dt.time(22, 0), "Asia/Tokyo")
    now = dt.datetime(2025, 7, 3, 22, 5, tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(dt.UTC)
    assert [d.day for d in decide(now, [tokyo], {}, is_trading_day, GRACE)] == [dt.date(2025, 7, 3)]


def test_next_post_skips_the_long_weekend() -> None:
    nxt = next_post(ny(2025, 7, 3, 9, 0), DAILY, is_trading_day)
    assert nxt == ny(2025, 7, 7, 8, 30)
