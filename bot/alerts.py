"""Alerts, service side: the events of the latest session, as plain data and text.

The events themselves come from :func:`engine.alerts.detect_alerts`. This module
decides which of them a front-end may tell people now (:func:`latest_alerts`): only
those of the latest *completed* NYSE session, by the service's clock, and only from real
data (the synthetic demo never raises an alert). Old history is never replayed: when the
store lags the calendar there is nothing to tell, and a channel that opts in is told
only about sessions from the one completed at the time it opted in (:func:`opt_in_day`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.alerts import AlertEvent, detect_alerts

if TYPE_CHECKING:
    from bot.service import AnalystService, DataRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatestAlerts:
    """The alerts that may go out now.

    ``session`` is the latest completed NYSE session by the clock; ``data_last`` the last
    day of the data; ``events`` are the events of ``session`` (empty when the data does
    not reach it, or is synthetic); ``reason`` says why there is nothing to tell, if so.
    """

    session: dt.date
    data_last: dt.date | None
    events: tuple[AlertEvent, ...]
    reason: str | None = None


def opt_in_day(now: dt.datetime) -> dt.date:
    """The first session a channel opting in at ``now`` is told about: the latest
    completed one (events of earlier sessions are history, never replayed)."""
    from sources.calendar import last_completed_session

    return last_completed_session(now)


def latest_alerts(service: AnalystService, req: DataRequest) -> LatestAlerts:
    """The events of the latest completed session in ``req``'s data, if it reaches it."""
    from sources.calendar import last_completed_session

    session = last_completed_session(service.clock())
    prepared = service.prepared(req)
    data_last = prepared.dates[-1].date()
    if any(p.synthetic for p in prepared.dataset.provenance):
        return LatestAlerts(session, data_last, (), "the data is the synthetic demo")
    if data_last != session:
        return LatestAlerts(
            session, data_last, (), f"the data ends on {data_last}, not on the last session"
        )
    events = detect_alerts(prepared, session, ticker=service.settings.ticker)
    return LatestAlerts(session, data_last, events)


KIND_ICONS = {"rule_started": "🚦", "gex_sign": "🧲", "vix_cross": "🌡️", "level_cross": "📏"}


def alert_message(event: AlertEvent, ticker: str = "IWM") -> str:
    """The one-message text of an alert; the same event always gives the same text."""
    icon = KIND_ICONS.get(event.kind, "🔔")
    return f"{icon} **{ticker} alert, {event.as_of:%a %d %b %Y}**: {event.text}"
