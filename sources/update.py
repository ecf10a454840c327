"""Bring every stored series up to date from its providers.

:func:`update` runs each series on its own: a provider or store failure is recorded in
the :class:`UpdateReport` and the other series carry on. Nothing here prints; callers
(the CLI, the bot) render the report and drive a progress bar through ``progress``.

Per series:

* prices - the whole history is asked for again (one request) and upserted, so Yahoo's
  re-based adjusted closes after each dividend replace the old ones; unchanged rows
  are not touched. From the fallback (no adjusted close) only new days are added, their
  ``adj_close`` scaled by the last stored adjusted/raw ratio.
* VIX - CBOE's full-history file, upserted from a few days before the last stored date.
* dark pool - one FINRA file per NYSE trading day, from the last stored day (or
  ``backfill_years`` back) to today, written in chunks so an interrupted backfill keeps
  what it finished; raw files are cached, so a resumed backfill downloads only the rest.
  A day without a usable file (an HTML page, an empty reply, an impossible row) is
  recorded in the store and asked for again on every later run until it comes, and
  named in the note until then; when no day at all gives data, the series failed.

* GEX - one chain snapshot, stored against the trading day its open interest describes.

Runs are serialised by the store's update lock (:mod:`sources.lock`): a second update
waits for the first a bounded time, then every series reports that another is running.

With ``deadline_seconds``, the whole update ends within that time: every fetch is
bounded by it (:func:`sources.providers.http.deadline_scope`) and a series not reached
in time is reported as not updated. What was written stays; the next run resumes.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd

from engine.errors import AnalystError, ProviderError
from engine.gex import average_dollar_volume, compute_gex, to_exchange_naive
from engine.series import Series
from sources.calendar import (
    is_trading_day,
    last_completed_session,
    last_trading_day,
    trading_days,
    trading_days_between,
)
from sources.lock import UpdateBusy, update_lock
from sources.providers.chain import ChainProvider
from sources.providers.finra import FinraProvider
from sources.providers.http import deadline_scope, time_left
from sources.providers.prices import PriceProvider
from sources.providers.vix import VixProvider
from sources.store import Store
from sources.urls import redact_urls
from sources.validate import screen_rows

log = logging.getLogger(__name__)

#: progress(series, done, total)
Progress = Callable[[str, int, int], None]
SERIES_ORDER: tuple[Series, ...] = ("prices", "vix", "dark_pool", "gex")
PRICE_HISTORY_START = dt.date(2000, 5, 26)  # IWM's first trading day
VIX_OVERLAP_DAYS = 7
FINRA_CHUNK = 40
ADV_DAYS = 20
#: How long an update waits for another one holding the store's update lock (seconds).
LOCK_WAIT_SECONDS = 30.0
NEW_YORK = ZoneInfo("America/New_York")
#: NYSE's regular opening time (New York); closes come from the calendar (half days).
NYSE_OPEN = dt.time(9, 30)
#: A failure's reason is cut to its first clause, at most this many characters.
REASON_CHARS = 90


@dataclass(frozen=True)
class Providers:
    prices: PriceProvider
    vix: VixProvider
    dark_pool: FinraProvider
    chain: ChainProvider


@dataclass(frozen=True)
class SeriesUpdate:
    """The outcome for one series."""

    series: Series
    source: str | None
    changed: int
    last_date: dt.date | None
    stale_days: int | None  # NYSE trading days behind the last session
    error: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def reason(self) -> str:
        """Why it failed, in one phrase, or '' (the full text is in ``error``)."""
        return failure_phrase(self.error) if self.error is not None else ""


#: Known causes, most specific first: (pattern in the error text, the phrase shown).
_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"name or service not known|name resolution|nodename nor servname", re.I),
        "no network: the host name cannot be resolved",
    ),
    (re.compile(r"connection refused|connect call failed", re.I), "the connection was refused"),
    (re.compile(r"another update is running|update lock", re.I), "another update is running"),
    (re.compile(r"time limit", re.I), "the update's time limit had passed"),
    (re.compile(r"timed? ?out|timeout", re.I), "the source timed out"),
    (re.compile(r"\bHTTP (\d{3})\b"), "the source answered HTTP {0}"),
    (re.compile(r"HTML page", re.I), "the source sent an HTML page instead of data"),
)


def failure_phrase(error: str) -> str:
    """A failure in one phrase: a known cause ("no network: ..."), else the error's first
    clause, cut at :data:`REASON_CHARS`."""
    for pattern, phrase in _CAUSES:
        found = pattern.search(error)
        if found:
            return phrase.format(*found.groups())
    first = re.split(r"; |\. ", error.strip(), maxsplit=1)[0].rstrip(".")
    if first.count("(") > first.count(")"):  # the clause ended inside a parenthesis
        first = first[: first.rindex("(")].rstrip()
    return first if len(first) <= REASON_CHARS else first[: REASON_CHARS - 3] + "..."


def session_text(today: dt.date, now: dt.datetime | None) -> str:
    """Which NYSE session the data can reach, said honestly for the time of day.

    With ``now`` (tz-aware): the last session whose close has passed, and, on a trading
    day before its close, that today's session has not opened yet or is still open.
    Without it: the last trading day on or before ``today``.
    """
    if now is None:
        return f"last NYSE session {last_trading_day(today)}"
    done = last_completed_session(now)
    local = now.astimezone(NEW_YORK)
    text = f"last completed NYSE session {done}"
    if is_trading_day(local.date()) and done < local.date():
        state = "opens at 09:30 ET" if local.time() < NYSE_OPEN else "is open (not complete)"
        text += f"; today's session ({local.date()}) {state}"
    return text


@dataclass
class UpdateReport:
    today: dt.date
    last_session: dt.date
    results: list[SeriesUpdate] = field(default_factory=list)
    #: The clock of the update (tz-aware), when the caller gave one.
    now: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[SeriesUpdate]:
        return [r for r in self.results if not r.ok]

    @property
    def updated(self) -> list[SeriesUpdate]:
        """Series that wrote new or changed rows."""
        return [r for r in self.results if r.ok and r.changed > 0]

    @property
    def unchanged(self) -> list[SeriesUpdate]:
        """Series whose source answered with nothing new."""
        return [r for r in self.results if r.ok and r.changed == 0]

    @property
    def session(self) -> str:
        """The session the data can reach, in words (see :func:`session_text`)."""
        return session_text(self.today, self.now)

    def summary(self) -> list[str]:
        """What happened, exactly: which series were updated (rows), unchanged, failed
        (and why, in one phrase); "nothing was updated" when nothing was."""
        lines: list[str] = []
        if self.updated:
            parts = [
                f"{r.series} ({r.changed:,} row{'s' * (r.changed != 1)})" for r in self.updated
            ]
            lines.append("updated: " + ", ".join(parts))
        else:
            lines.append("nothing was updated")
        if self.unchanged:
            lines.append(
                "unchanged (no new data from the source): "
                + ", ".join(r.series for r in self.unchanged)
            )
        for r in self.failed:
            lines.append(f"failed: {r.series} ({r.reason})")
        return lines


def update(
    store: Store,
    providers: Providers,
    today: dt.date,
    progress: Progress | None = None,
    *,
    ticker: str = "IWM",
    backfill_years: int = 3,
    series: tuple[Series, ...] = SERIES_ORDER,
    lock_wait: float = LOCK_WAIT_SECONDS,
    now: dt.datetime | None = None,
    deadline_seconds: float | None = None,
) -> UpdateReport:
    """Update each series in ``series`` under the store's update lock; failures are
    reported, never raised (another update holding the lock fails every series).

    ``deadline_seconds`` bounds the whole update (None: only each fetch's own limits).
    """
    try:
        with update_lock(store.path, wait=lock_wait):
            if deadline_seconds is None:
                return _update(
                    store,
                    providers,
                    today,
                    progress,
                    ticker=ticker,
                    backfill_years=backfill_years,
                    series=series,
                    now=now,
                )
            with deadline_scope(deadline_seconds):
                report = _update(
                    store,
                    providers,
                    today,
                    progress,
                    ticker=ticker,
                    backfill_years=backfill_years,
                    series=series,
                    now=now,
                )
                out_of_time = time_left() == 0.0
            if out_of_time:
                log.warning(
                    "update stopped at its time limit (%.0f s); run it again", deadline_seconds
                )
            return report
    except UpdateBusy as busy:
        report = UpdateReport(
            today=today,
            last_session=last_completed_session(now)
            if now is not None
            else last_trading_day(today),
            now=now,
        )
        for name in series:
            info = store.info(name, ticker)
            report.results.append(
                SeriesUpdate(name, info.source, 0, info.last_date, None, error=str(busy))
            )
        return report


def _update(
    store: Store,
    providers: Providers,
    today: dt.date,
    progress: Progress | None = None,
    *,
    ticker: str = "IWM",
    backfill_years: int = 3,
    series: tuple[Series, ...] = SERIES_ORDER,
    now: dt.datetime | None = None,
) -> UpdateReport:
    """Update each series in ``series``; failures are reported, never raised.

    ``now`` (the entry point's clock) tells which session has completed: a price bar of
    a session still trading is left out. Without it, bars up to ``today`` are kept.
    """
    session = last_trading_day(today)
    report = UpdateReport(
        today=today,
        last_session=last_completed_session(now) if now is not None else session,
        now=now,
    )
    steps: dict[Series, Callable[[], tuple[str | None, int, str | None]]] = {
        "prices": lambda: _prices(
            store, providers.prices, today, ticker, last_completed_session(now) if now else today
        ),
        "vix": lambda: _vix(store, providers.vix, today),
        "dark_pool": lambda: _dark_pool(
            store, providers.dark_pool, session, ticker, backfill_years, progress
        ),
        "gex": lambda: _gex(store, providers.chain, ticker),
    }
    for name in series:
        error = None
        source: str | None = None
        changed = 0
        note: str | None = None
        try:
            if time_left() == 0.0:
                error = "not updated: the update's time limit had passed; run it again"
            else:
                source, changed, note = steps[name]()
        except AnalystError as exc:
            error = redact_urls(str(exc))
            log.info("update of %s failed: %s", name, exc)
        except Exception as exc:  # one broken source must not stop the others
            # A provider's surprise is a one-line note; the traceback only at DEBUG.
            log.warning("update of %s failed: unexpected %s: %s", name, type(exc).__name__, exc)
            log.debug("update of %s failed", name, exc_info=True)
            error = f"unexpected {type(exc).__name__}: {exc}"
        info = store.info(name, ticker)
        reach = report.last_session
        stale = trading_days_between(info.last_date, reach) if info.last_date else None
        report.results.append(
            SeriesUpdate(name, source or info.source, changed, info.last_date, stale, error, note)
        )
    return report


def _prices(
    store: Store, provider: PriceProvider, today: dt.date, ticker: str, complete: dt.date
) -> tuple[str | None, int, str | None]:
    info = store.info("prices", ticker)
    start = info.first_date or PRICE_HISTORY_START
    frame, source = provider.fetch(start, today)
    frame, note = screen_rows(frame, "prices", limit=complete)
    if source != "yahoo" and info.last_date is not None:
        # No adjusted close from the fallback: never overwrite adjusted history with raw.
        stored = store.read("prices", ticker).iloc[-1]
        ratio = float(stored["adj_close"] / stored["close"])
        frame = frame[frame.index > pd.Timestamp(info.last_date)].copy()
        frame["adj_close"] = frame["close"] * ratio
        scaled = f"fallback {source}: adjusted close scaled by the last stored ratio {ratio:.4f}"
        note = "; ".join(n for n in (scaled, note) if n)
    changed = store.upsert("prices", frame, source=source, ticker=ticker)
    return source, changed, note


def _vix(store: Store, provider: VixProvider, today: dt.date) -> tuple[str | None, int, str | None]:
    last = store.last_date("vix")
    start = last - dt.timedelta(days=VIX_OVERLAP_DAYS) if last else dt.date(1990, 1, 2)
    frame, source = provider.fetch(start, today)
    frame, note = screen_rows(frame, "vix", limit=today)
    return source, store.upsert("vix", frame, source=source), note


def _dark_pool(
    store: Store,
    provider: FinraProvider,
    session: dt.date,
    ticker: str,
    backfill_years: int,
    progress: Progress | None,
) -> tuple[str | None, int, str | None]:
    last = store.last_date("dark_pool", ticker)
    if last is not None:
        first = last + dt.timedelta(days=1)
    else:
        first = session - dt.timedelta(days=round(365.25 * backfill_years))
    # Days missed by earlier runs are asked for again, with the new ones.
    retry = [d for d in store.missing_days("dark_pool", ticker) if d < first]
    new_days = [d for d in trading_days(first, session) if d != session]
    days = sorted({*retry, *trading_days(first, session)})
    changed = 0
    reasons: dict[dt.date, str] = {}
    for offset in range(0, len(days), FINRA_CHUNK):
        chunk = days[offset : offset + FINRA_CHUNK]

        def step(done: int, _total: int, base: int = offset) -> None:
            if progress is not None:
                progress("dark_pool", base + done, len(days))

        res = provider.fetch_days(chunk, progress=step)
        reasons |= {d: res.reasons.get(d, "no file") for d in res.missing}
        with store.batch():
            if not res.frame.empty:
                changed += store.upsert("dark_pool", res.frame, source="finra", ticker=ticker)
                store.clear_missing("dark_pool", [t.date() for t in res.frame.index], ticker)
            if res.missing:
                store.note_missing("dark_pool", {d: reasons[d] for d in res.missing}, ticker)
    # FINRA posts a day's file in the evening: the latest session missing is expected.
    unexpected = {d: r for d, r in reasons.items() if d != session}
    if new_days and all(d in unexpected for d in new_days):
        # Not one new day gave data: the source is broken, not merely missing a day.
        raise ProviderError(
            f"FINRA gave no usable file for any of the {len(new_days)} new day(s) asked "
            f"({_missing_text(unexpected)}); they will be asked for again on the next run"
        )
    note = None
    if unexpected:
        note = (
            f"no FINRA data for {len(unexpected)} day(s): {_missing_text(unexpected)}; "
            "asked for again on the next run"
        )
    return "finra", changed, note


def _missing_text(reasons: dict[dt.date, str], shown: int = 5) -> str:
    """'2026-01-07 (HTML page), 2026-01-08 (bad row) and 3 more'."""
    days = sorted(reasons)
    text = ", ".join(f"{d} ({reasons[d]})" for d in days[:shown])
    return text + (f" and {len(days) - shown} more" if len(days) > shown else "")


def snapshot_day(as_of: dt.datetime) -> dt.date:
    """The trading day whose close and open interest a chain taken at ``as_of`` shows.

    Before 09:30 exchange time the chain still shows the previous session.
    """
    local = to_exchange_naive(as_of)
    day = local.date()
    if local.time() < dt.time(9, 30):
        day -= dt.timedelta(days=1)
    return last_trading_day(day)


def adv_dollars(store: Store, ticker: str, days: int = ADV_DAYS) -> float | None:
    """Average daily dollar volume (close * volume) over the last ``days`` stored bars."""
    bars = store.read("prices", ticker)
    return average_dollar_volume(bars["close"], bars["volume"], days)


def _gex(store: Store, provider: ChainProvider, ticker: str) -> tuple[str | None, int, str]:
    snap = provider.fetch()
    result = compute_gex(
        snap.contracts, snap.spot, snap.as_of, adv_dollars=adv_dollars(store, ticker)
    )
    day = snapshot_day(snap.as_of)
    source = f"chain:{snap.source}"
    changed = store.save_gex_snapshot(day, result, source=source, ticker=ticker)
    flip = f"{result.flip_level:.2f}" if result.flip_level is not None else "none"
    note = f"net GEX {result.net_gex / 1e6:,.0f}M USD/1%, flip {flip}, chain as of {snap.as_of}"
    return source, changed, note
