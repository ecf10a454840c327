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
* GEX - one chain snapshot, stored against the trading day its open interest describes.

With ``deadline_seconds``, the whole update ends within that time: every fetch is
bounded by it (:func:`sources.providers.http.deadline_scope`) and a series not reached
in time is reported as not updated. What was written stays; the next run resumes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from engine.errors import AnalystError
from engine.gex import average_dollar_volume, compute_gex, to_exchange_naive
from engine.series import Series
from sources.calendar import last_trading_day, trading_days, trading_days_between
from sources.providers.chain import ChainProvider
from sources.providers.finra import FinraProvider
from sources.providers.http import deadline_scope, time_left
from sources.providers.prices import PriceProvider
from sources.providers.vix import VixProvider
from sources.store import Store

log = logging.getLogger(__name__)

#: progress(series, done, total)
Progress = Callable[[str, int, int], None]
SERIES_ORDER: tuple[Series, ...] = ("prices", "vix", "dark_pool", "gex")
PRICE_HISTORY_START = dt.date(2000, 5, 26)  # IWM's first trading day
VIX_OVERLAP_DAYS = 7
FINRA_CHUNK = 40
ADV_DAYS = 20


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


@dataclass
class UpdateReport:
    today: dt.date
    last_session: dt.date
    results: list[SeriesUpdate] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[SeriesUpdate]:
        return [r for r in self.results if not r.ok]


def update(
    store: Store,
    providers: Providers,
    today: dt.date,
    progress: Progress | None = None,
    *,
    ticker: str = "IWM",
    backfill_years: int = 3,
    series: tuple[Series, ...] = SERIES_ORDER,
    deadline_seconds: float | None = None,
) -> UpdateReport:
    """Update each series in ``series``; failures are reported, never raised.

    ``deadline_seconds`` bounds the whole update (None: only each fetch's own limits).
    """
    if deadline_seconds is None:
        return _update(store, providers, today, progress, ticker, backfill_years, series)
    with deadline_scope(deadline_seconds):
        report = _update(store, providers, today, progress, ticker, backfill_years, series)
        out_of_time = time_left() == 0.0
    if out_of_time:
        log.warning("update stopped at its time limit (%.0f s); run it again", deadline_seconds)
    return report


def _update(
    store: Store,
    providers: Providers,
    today: dt.date,
    progress: Progress | None,
    ticker: str,
    backfill_years: int,
    series: tuple[Series, ...],
) -> UpdateReport:
    session = last_trading_day(today)
    report = UpdateReport(today=today, last_session=session)
    steps: dict[Series, Callable[[], tuple[str | None, int, str | None]]] = {
        "prices": lambda: _prices(store, providers.prices, today, ticker),
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
            error = str(exc)
            log.info("update of %s failed: %s", name, exc)
        except Exception as exc:  # one broken source must not stop the others
            # A provider's surprise is a one-line note; the traceback only at DEBUG.
            log.warning("update of %s failed: unexpected %s: %s", name, type(exc).__name__, exc)
            log.debug("update of %s failed", name, exc_info=True)
            error = f"unexpected {type(exc).__name__}: {exc}"
        info = store.info(name, ticker)
        stale = trading_days_between(info.last_date, session) if info.last_date else None
        report.results.append(
            SeriesUpdate(name, source or info.source, changed, info.last_date, stale, error, note)
        )
    return report


def _prices(
    store: Store, provider: PriceProvider, today: dt.date, ticker: str
) -> tuple[str | None, int, str | None]:
    info = store.info("prices", ticker)
    start = info.first_date or PRICE_HISTORY_START
    frame, source = provider.fetch(start, today)
    note = None
    if source != "yahoo" and info.last_date is not None:
        # No adjusted close from the fallback: never overwrite adjusted history with raw.
        stored = store.read("prices", ticker).iloc[-1]
        ratio = float(stored["adj_close"] / stored["close"])
        frame = frame[frame.index > pd.Timestamp(info.last_date)].copy()
        frame["adj_close"] = frame["close"] * ratio
        note = f"fallback {source}: adjusted close scaled by the last stored ratio {ratio:.4f}"
    changed = store.upsert("prices", frame, source=source, ticker=ticker)
    return source, changed, note


def _vix(store: Store, provider: VixProvider, today: dt.date) -> tuple[str | None, int, None]:
    last = store.last_date("vix")
    start = last - dt.timedelta(days=VIX_OVERLAP_DAYS) if last else dt.date(1990, 1, 2)
    frame, source = provider.fetch(start, today)
    return source, store.upsert("vix", frame, source=source), None


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
    days = trading_days(first, session)
    changed = 0
    missing: list[dt.date] = []
    for offset in range(0, len(days), FINRA_CHUNK):
        chunk = days[offset : offset + FINRA_CHUNK]

        def step(done: int, _total: int, base: int = offset) -> None:
            if progress is not None:
                progress("dark_pool", base + done, len(days))

        res = provider.fetch_days(chunk, progress=step)
        missing += res.missing
        if not res.frame.empty:
            changed += store.upsert("dark_pool", res.frame, source="finra", ticker=ticker)
    # FINRA posts a day's file in the evening: the latest session missing is expected.
    unexpected = [d for d in missing if d != session]
    note = None
    if unexpected:
        shown = ", ".join(d.isoformat() for d in unexpected[:5])
        more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
        note = f"no FINRA data for {len(unexpected)} day(s): {shown}{more}"
    return "finra", changed, note


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
