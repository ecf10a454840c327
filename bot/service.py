"""``AnalystService``: the one place front-ends (CLI, Discord, terminal chat) get answers.

It returns plain data (states, reports); front-ends only format and send. Work that is
the same for many requests is done once: the prepared dataset (indicators, fires,
forward returns) is cached per input identity, so a hundred forecasts for the same day
build the expensive part once. Thread-safe: Discord runs it in worker threads.

Everything a person waits on ends by a :class:`~bot.narrator.deadline.Deadline` the
front-end makes when the request arrives (``forecast``, ``ask``); without one, the
model's deadline starts at the call. ``refresh_store`` ends by its own deadline.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.narrator import Narrator, Report, make_report
from bot.narrator.deadline import Deadline
from bot.once import OnceCache
from bot.settings import Settings
from engine.errors import EmptyStoreError, InputDataError
from engine.state import EngineParams, MarketState

if TYPE_CHECKING:
    from bot.narrator.answer import Answer
    from engine.audit import AuditTable
    from engine.dataset import Dataset
    from engine.gex import GexResult
    from engine.prepared import Prepared
    from engine.walkforward import WalkForward
    from sources.ledger import Scorecard, Source
    from sources.update import Providers, UpdateReport
    from sources.validate import Checks

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")

NarratorFactory = Callable[[Settings, bool], Narrator]


@dataclass(frozen=True)
class DataRequest:
    """Where the data comes from: CSV files, the demo, or (neither) the local store."""

    csv: Path | None = None
    vix: Path | None = None
    gex: Path | None = None
    #: one dark-pool file, or several (FINRA CNMS files, folders of them)
    dark_pool: Path | tuple[Path, ...] | None = None
    demo: bool = False
    gex_unit: str | None = None  # declared unit of the GEX file (sources.validate.GEX_UNITS)

    def dark_pool_paths(self) -> tuple[Path, ...]:
        if self.dark_pool is None:
            return ()
        return self.dark_pool if isinstance(self.dark_pool, tuple) else (self.dark_pool,)

    def key(self) -> tuple[object, ...]:
        """Identity of the inputs: paths with size and mtime, so edits invalidate."""
        parts: list[object] = ["demo" if self.demo else "files", self.gex_unit]
        for path in (self.csv, self.vix, self.gex, *self.dark_pool_paths()):
            if path is None:
                parts.append(None)
                continue
            try:
                st = Path(path).stat()
                parts.append((str(Path(path).resolve()), st.st_size, st.st_mtime_ns))
            except OSError:
                parts.append((str(path), None, None))
        return tuple(parts)


def _mtimes(db: Path) -> tuple[int | None, ...]:
    """Modification times (ns) and sizes of the store's files, so new data invalidates
    the cache: two commits within one timestamp tick still differ in size (the WAL
    grows with each commit); a refresh by this service also bumps a generation."""
    out: list[int | None] = []
    for suffix in ("", "-wal"):
        try:
            st = Path(f"{db}{suffix}").stat()
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [None, None]
    return tuple(out)


#: States kept per prepared dataset (days asked about; usually the latest one).
STATES_PER_DATASET = 16


class _PreparedStates:
    """A prepared dataset and the states built from it, by day."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.states: OnceCache[dt.date | None, MarketState] = OnceCache(STATES_PER_DATASET)


class AnalystService:
    """Transport-agnostic operations: dataset, state, signals, forecast."""

    def __init__(
        self,
        settings: Settings,
        *,
        narrator_factory: NarratorFactory | None = None,
        providers: Callable[[], Providers] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        cache_size: int = 4,
    ) -> None:
        self.settings = settings
        self._providers = providers
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        if narrator_factory is None:
            from bot.narrator.factory import NarratorChooser

            narrator_factory = NarratorChooser(self.clock)
        self._narrator_factory = narrator_factory
        # Each prepared dataset with its states by day (a busy morning builds each state
        # once). The states live and go with their dataset, so a long-running bot keeps
        # at most ``cache_size`` datasets (about 4 MB each for 26 years), however often
        # the store is updated; a rebuilt dataset never meets a stale state.
        self._prepared: OnceCache[tuple[object, ...], _PreparedStates] = OnceCache(cache_size)
        #: Bumped by each refresh of the store (part of the store's cache key).
        self._store_generation = 0

    # --- data ----------------------------------------------------------------------
    def dataset(self, req: DataRequest) -> Dataset:
        """Load the inputs a request names (CSV files, the demo, or the store)."""
        if req.demo:
            from engine.demo import demo_dataset

            return demo_dataset()
        if req.csv is not None:
            from sources.csv_import import load_dataset

            return load_dataset(
                req.csv,
                req.vix,
                req.gex,
                req.dark_pool_paths() or None,
                ffill_limit=self._params().ffill_limit,
                checks=self.checks(gex_unit=req.gex_unit),
            )
        if any(p is not None for p in (req.vix, req.gex, req.dark_pool)):
            raise InputDataError("--vix/--gex/--dark-pool need a prices file: add --csv FILE")
        return self._store_dataset()

    def checks(self, gex_unit: str | None = None) -> Checks:
        """What validation at the door needs from the clock (the latest completed NYSE
        session, today's date) and the ticker, for files read now."""
        from sources.validate import Checks

        return Checks.at(self.clock(), ticker=self.settings.ticker, gex_unit=gex_unit)

    def or_demo(self, req: DataRequest) -> tuple[DataRequest, str | None]:
        """``req``, or the demo (and why) when it means the store and the store is empty."""
        if req.csv is not None or req.demo:
            return req, None
        try:
            self.prepared(req)
        except EmptyStoreError as err:
            log.info("the local store is empty; using the synthetic demo data")
            return DataRequest(demo=True), f"{err}; showing the synthetic demo instead"
        return req, None

    def refresh_store(
        self, today: dt.date, deadline_seconds: float | None = None
    ) -> UpdateReport | None:
        """Bring the local store up to date if it is in use (has prices); else None.

        Failures of single sources are in the report, never raised. The refresh ends
        within ``deadline_seconds`` (default IWM_UPDATE_DEADLINE_SECONDS); what is left
        is reported as not done and resumes next time.
        """
        from sources.store import Store
        from sources.update import update

        if self._providers is None:
            return None
        with Store(self.settings.database) as store:
            if store.is_empty(self.settings.ticker):
                return None
            try:
                return update(
                    store,
                    self._providers(),
                    today,
                    ticker=self.settings.ticker,
                    backfill_years=self.settings.backfill_years,
                    now=self.clock(),
                    deadline_seconds=deadline_seconds or self.settings.update_deadline_seconds,
                )
            finally:  # a partial update committed too: read the store afresh
                self._store_generation += 1

    def _store_dataset(self) -> Dataset:
        """The local store's data, with a warning when prices lag the NYSE calendar."""
        from engine.state import DataWarning, WarningCode
        from sources.calendar import last_trading_day, trading_days_between
        from sources.store import Store
        from sources.store_dataset import dataset_from_store

        with Store(self.settings.database) as store:
            data = dataset_from_store(
                store,
                self.settings.ticker,
                ffill_limit=self._params().ffill_limit,
                until=self.checks().latest_session,
            )
        today = self.clock().astimezone(NEW_YORK).date()
        session = last_trading_day(today)
        last = data.frame.index[-1].date()
        behind = trading_days_between(last, session) if last < session else 0
        if behind > 1:
            warning = DataWarning(
                code=WarningCode.PRICES_BEHIND,
                series="prices",
                dates=(last, session),
                text=f"prices in the store end on {last}, {behind} trading days before the "
                f"last session ({session}): run 'iwm-analyst update'",
            )
            return replace(data, warnings=(warning, *data.warnings))
        return data

    def _params(self) -> EngineParams:
        return self.settings.engine_params

    def prepared(self, req: DataRequest) -> Prepared:
        """The prepared dataset for ``req``, built once per input identity."""
        return self._prepared_states(req).prepared

    def _prepared_states(self, req: DataRequest) -> _PreparedStates:
        from engine.prepared import prepare
        from engine.rules import load_playbook

        playbook_path = self.settings.playbook_path
        key = (*req.key(), str(playbook_path), self._params())
        if req.csv is None and not req.demo:
            key = (*key, self._store_generation, *_mtimes(self.settings.database))
        return self._prepared.get(
            key,
            lambda: _PreparedStates(
                prepare(self.dataset(req), load_playbook(playbook_path), self._params())
            ),
        )

    # --- operations ------------------------------------------------------------------
    def state(self, req: DataRequest, as_of: dt.date | None = None) -> MarketState:
        from engine.build import state_at

        entry = self._prepared_states(req)
        prepared = entry.prepared
        return entry.states.get(
            as_of, lambda: state_at(prepared, as_of, ticker=self.settings.ticker)
        )

    def signals(self, req: DataRequest, as_of: dt.date | None = None) -> MarketState:
        """The state, for listing every rule with its deciding values."""
        return self.state(req, as_of)

    def narrator(self, offline: bool = False) -> Narrator:
        return self._narrator_factory(self.settings, offline)

    def ask(
        self,
        req: DataRequest,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        as_of: dt.date | None = None,
        offline: bool = False,
        deadline: Deadline | None = None,
    ) -> Answer:
        """Answer a follow-up question about the state for ``as_of`` by ``deadline``."""
        from bot.narrator.answer import answer
        from bot.narrator.llm import LLMNarrator

        state = self.state(req, as_of)
        narrator = self.narrator(offline)
        client = None
        if isinstance(narrator, LLMNarrator) and not narrator.over_budget():
            client = narrator.client
        return answer(
            question, state, history, settings=self.settings, client=client, deadline=deadline
        )

    def forecast(
        self,
        req: DataRequest,
        as_of: dt.date | None = None,
        offline: bool = False,
        source: Source = "cli",
        deadline: Deadline | None = None,
    ) -> Report:
        """The state for the day and its narrated report, recorded in the forecast ledger.

        The narration ends by ``deadline`` (the template answers at it).
        """
        state = self.state(req, as_of)
        self._record(state, self.prepared(req).dates[-1].date(), source)
        narrator = self.narrator(offline)
        # Only a model narrator takes a deadline; if its module is not loaded, this is not
        # one (offline runs never import the openai SDK).
        llm = sys.modules.get("bot.narrator.llm")
        if llm is not None and isinstance(narrator, llm.LLMNarrator):
            narration = narrator.narrate(state, deadline)
        else:
            narration = narrator.narrate(state)
        return make_report(state, narration)

    def rule_names(self) -> tuple[tuple[str, str | None, int], ...]:
        """(name, nickname, tier) of every playbook rule, as the playbook file has them."""
        from engine.rules import load_playbook

        return tuple(
            (r.name, r.nickname, r.tier) for r in load_playbook(self.settings.playbook_path).rules
        )

    def chain_gex(self, path: Path) -> GexResult:
        """Dealer gamma of the option chain in ``path`` (a saved chain JSON file)."""
        from engine.gex import compute_gex
        from sources.providers.chain import read_chain_file

        snap = read_chain_file(path)
        try:
            return compute_gex(snap.contracts, snap.spot, snap.as_of)
        except ValueError as exc:
            raise InputDataError(f"the option chain cannot be used: {exc}") from exc

    # --- evidence (issue 3) ------------------------------------------------------------
    def audit(self, req: DataRequest, as_of: dt.date | None = None, seed: int = 0) -> AuditTable:
        """Every playbook rule measured against its claim (see engine.audit)."""
        from engine.audit import audit

        return audit(self.prepared(req), as_of=as_of, seed=seed)

    def walkforward(self, req: DataRequest, warmup: int = 250) -> WalkForward:
        """The forecaster replayed over the history and scored beside baselines."""
        from engine.walkforward import walk_forward

        return walk_forward(self.prepared(req), warmup=warmup)

    def scorecard(
        self, req: DataRequest | None = None, include_synthetic: bool = False
    ) -> Scorecard:
        """The live track record in the ledger, outcomes first filled from ``req``'s data.

        Without usable data (e.g. an empty store) the outcomes already filled are scored.
        """
        from sources.ledger import Ledger

        with Ledger(self.settings.database) as ledger:
            if req is not None:
                try:
                    frame = self.dataset(req).frame
                except InputDataError as exc:
                    log.info("scorecard: outcomes not updated: %s", exc)
                else:
                    ledger.fill_outcomes(frame, self.settings.ticker)
            return ledger.scorecard(self.settings.ticker, include_synthetic=include_synthetic)

    def _record(self, state: MarketState, data_last: dt.date, source: Source) -> None:
        """Put a live forecast in the ledger; a ledger problem never breaks a forecast.

        Only live forecasts are recorded (:func:`sources.ledger.is_live`): made now, by
        this service's clock, from data whose last day is the latest completed session.
        Replays, stale data, repeats of a day and synthetic (demo) data are no track
        record.
        """
        from engine.errors import AnalystError
        from sources.ledger import Ledger, is_live

        now = self.clock()
        if not is_live(state.as_of, data_last, now, state.synthetic):
            return
        try:
            with Ledger(self.settings.database) as ledger:
                ledger.record(state, created_at=now, source=source, data_last=data_last)
        except (AnalystError, OSError) as exc:
            log.warning("forecast not recorded in the ledger: %s", exc)
