"""When to make the morning post: a pure decision over an injected clock.

A channel's post is due on a NYSE trading day (in the schedule's own time zone) from its
local time until ``grace`` later, if it has not been posted that day. Times are wall-
clock times in the schedule's zone, so a post at 08:30 New York stays at 08:30 across
daylight-saving changes. A day whose window passed while the bot was down is *missed*:
it is skipped and reported once, never posted late.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.discord_bot.persist import Schedule


@dataclass(frozen=True)
class Decision:
    schedule: Schedule
    day: dt.date  # the trading day in the schedule's zone
    missed: bool  # True: the window passed; skip and log


def decide(
    now_utc: dt.datetime,
    schedules: Iterable[Schedule],
    last_posted: Mapping[int, dt.date],
    is_trading_day: Callable[[dt.date], bool],
    grace: dt.timedelta,
) -> list[Decision]:
    """Posts due now (``missed=False``) and windows that passed unposted (``missed=True``)."""
    out = []
    for s in schedules:
        if not s.enabled:
            continue
        zone = ZoneInfo(s.tz)
        local = now_utc.astimezone(zone)
        day = local.date()
        if not is_trading_day(day) or last_posted.get(s.channel_id) == day:
            continue
        due = dt.datetime.combine(day, s.at_time, tzinfo=zone)
        if due <= local <= due + grace:
            out.append(Decision(s, day, missed=False))
        elif local > due + grace:
            out.append(Decision(s, day, missed=True))
    return out


def next_post(
    now_utc: dt.datetime, s: Schedule, is_trading_day: Callable[[dt.date], bool]
) -> dt.datetime | None:
    """The next scheduled post time (UTC) from ``now_utc``, within two weeks."""
    zone = ZoneInfo(s.tz)
    local = now_utc.astimezone(zone)
    for offset in range(15):
        day = local.date() + dt.timedelta(days=offset)
        due = dt.datetime.combine(day, s.at_time, tzinfo=zone)
        if is_trading_day(day) and due >= local:
            return due.astimezone(dt.UTC)
    return None


def alerts_day(now_utc: dt.datetime, is_trading_day: Callable[[dt.date], bool]) -> dt.date | None:
    """The New York date when alerts are checked now (an NYSE trading day), else None."""
    day = now_utc.astimezone(ZoneInfo("America/New_York")).date()
    return day if is_trading_day(day) else None
