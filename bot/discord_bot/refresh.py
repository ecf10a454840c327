"""The bot's store refresh: one at a time, bounded, shared by the morning post and alerts.

Both the morning post (before its first post of the day) and the alert loop (once per
NYSE session after the close) bring the local store up to date through
:meth:`StoreRefresher.run`. The refresh runs in a worker thread and is given
``DISCORD_REFRESH_SECONDS``; the caller waits at most that long plus
:data:`REFRESH_SLACK_SECONDS`. A refresh that overruns cannot be stopped (it is a
thread), so the bot's lock stays held until it really ends: a second caller meanwhile
waits on the same run instead of starting another, so two refreshes never write the
store at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot
    from sources.update import UpdateReport

log = logging.getLogger(__name__)

#: How long past DISCORD_REFRESH_SECONDS a caller waits for the refresh to return.
REFRESH_SLACK_SECONDS = 5.0


class Refresh(enum.Enum):
    """How a refresh ended, for its caller."""

    SKIPPED = "skipped"  # nothing to refresh: a CSV file, the demo or no store in use
    DONE = "done"  # every source answered
    PARTIAL = "partial"  # it ran, but some sources failed or time ran out
    FAILED = "failed"  # it raised, or did not end within the deadline


class StoreRefresher:
    """Owned by the bot (``bot.refresher``); holds the one lock on refreshing."""

    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot
        self.lock = asyncio.Lock()
        self._running: asyncio.Future[UpdateReport | None] | None = None

    @property
    def running(self) -> bool:
        """True while a refresh's worker thread has not ended (even past its deadline)."""
        return self.lock.locked()

    async def run(self, day: dt.date, purpose: str) -> Refresh:
        """Refresh the store for ``day`` (New York), or join the refresh under way.

        ``purpose`` names the caller in the log ("before the morning post"). Never
        raises for a failed refresh: the outcome says what happened.
        """
        bot = self.bot
        if bot.settings.discord_data_csv is not None:
            return Refresh.SKIPPED
        seconds = bot.settings.discord_refresh_seconds
        future = self._running
        if future is None or not self.lock.locked():
            await self.lock.acquire()  # free, so this returns at once: no other task runs
            future = asyncio.ensure_future(
                bot.run_blocking(bot.service.refresh_store, day, seconds)
            )
            future.add_done_callback(self._ended)
            self._running = future
        else:
            log.info("a store refresh is under way; waiting for it %s", purpose)
        try:
            report = await asyncio.wait_for(asyncio.shield(future), seconds + REFRESH_SLACK_SECONDS)
        except TimeoutError:
            log.warning("data refresh %s did not end in %.0f s", purpose, seconds)
            return Refresh.FAILED
        except Exception as exc:
            log.warning("data refresh %s failed: %s: %s", purpose, type(exc).__name__, exc)
            log.debug("refresh failure", exc_info=True)
            return Refresh.FAILED
        if report is None:
            return Refresh.SKIPPED
        if not report.ok:
            log.warning("refresh %s: %s source(s) failed", purpose, len(report.failed))
            return Refresh.PARTIAL
        return Refresh.DONE

    def _ended(self, future: asyncio.Future[UpdateReport | None]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: a failure is logged by the waiter, not asyncio
        self.lock.release()
