"""The forecast ledger: the product's live forecasts, kept in SQLite and scored later.

Only a *live* forecast is recorded (:func:`is_live`): the forecast for the next session,
made from data whose last day is the latest completed NYSE session at the time it was
made, on real data. Replays (``--as-of`` a past day), forecasts from stale data and
synthetic demo data are never recorded, and only the first live forecast of a day
counts: a repeat (the same day again, even on refreshed data) adds nothing, so
re-running ``forecast`` never inflates the track record. Rows written before this rule
(schema version 1) are classified once by the same rule, using the time they were
made; those that fail it stay in the table, marked not live, and are not scored.

When data covering ``as_of + h`` trading days arrives, :meth:`Ledger.fill_outcomes`
stores the realised return ``adj_close(t+h) / adj_close(t) - 1`` and whether it rose.
:meth:`Ledger.scorecard` scores the filled rows exactly as the walk-forward does.

Times are passed in (``created_at``, ``now``); this module reads no clock (the NYSE
calendar tells which session had completed at a given time).
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from engine.errors import StoreError
from engine.state import Frozen, MarketState
from engine.walkforward import HorizonScore, score
from sources.db import connect, migrate, transaction

log = logging.getLogger(__name__)

COMPONENT = "ledger"
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE ledger_forecasts (
        id               INTEGER PRIMARY KEY,
        ticker           TEXT    NOT NULL,
        as_of            TEXT    NOT NULL,
        horizon          INTEGER NOT NULL,
        inputs_hash      TEXT    NOT NULL,
        playbook_version TEXT    NOT NULL,
        call             TEXT    NOT NULL,
        prob_up          REAL    NOT NULL,
        base_rate        REAL    NOT NULL,
        synthetic        INTEGER NOT NULL,
        source           TEXT    NOT NULL,
        created_at       TEXT    NOT NULL,
        outcome_date     TEXT,
        realized_return  REAL,
        outcome_up       INTEGER,
        UNIQUE (ticker, as_of, horizon, inputs_hash)
    );
    CREATE INDEX ledger_open ON ledger_forecasts (ticker, outcome_up);
    """,
    # 2: live forecasts only; NULL marks rows made before the rule, classified on open.
    """
    ALTER TABLE ledger_forecasts ADD COLUMN live INTEGER;
    CREATE INDEX ledger_live ON ledger_forecasts (ticker, as_of, horizon, live);
    """,
)


def is_live(as_of: dt.date, data_last: dt.date, made_at: dt.datetime, synthetic: bool) -> bool:
    """A forecast is live when it was made on real data for the latest completed NYSE
    session at ``made_at`` and that session is the data's last day (not a replay)."""
    from sources.calendar import last_completed_session

    return not synthetic and as_of == data_last == last_completed_session(made_at)


Source = Literal["cli", "discord"]


class LedgerEntry(Frozen):
    ticker: str
    as_of: dt.date
    horizon: int
    inputs_hash: str
    playbook_version: str
    call: str
    prob_up: float
    base_rate: float
    synthetic: bool
    source: str
    created_at: dt.datetime
    outcome_date: dt.date | None = None
    realized_return: float | None = None
    outcome_up: bool | None = None


class Scorecard(Frozen):
    """The live track record: counts and one score per horizon (filled rows only)."""

    recorded: int  # live forecasts (rows per horizon)
    filled: int
    pending: int
    synthetic_excluded: int
    scores: tuple[HorizonScore, ...]
    not_live_excluded: int = 0  # replays and repeats recorded before the live-only rule


class Ledger:
    """Forecast ledger on the shared SQLite database (component ``ledger``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.conn = connect(path)
        migrate(self.conn, COMPONENT, MIGRATIONS)
        self._classify_legacy()

    def _classify_legacy(self) -> None:
        """Mark rows from before the live-only rule: live when :func:`is_live` holds at
        the time they were made (their data's last day unknown, taken as ``as_of``) and
        no earlier row of the same day and horizon was."""
        rows = self.conn.execute(
            "SELECT id, ticker, as_of, horizon, synthetic, created_at FROM ledger_forecasts "
            "WHERE live IS NULL ORDER BY created_at, id"
        ).fetchall()
        if not rows:
            return
        taken = {
            (r["ticker"], r["as_of"], r["horizon"])
            for r in self.conn.execute(
                "SELECT ticker, as_of, horizon FROM ledger_forecasts WHERE live = 1"
            )
        }
        marks = []
        for r in rows:
            key = (r["ticker"], r["as_of"], r["horizon"])
            day = dt.date.fromisoformat(r["as_of"])
            made = dt.datetime.fromisoformat(r["created_at"])
            live = key not in taken and is_live(day, day, made, bool(r["synthetic"]))
            if live:
                taken.add(key)
            marks.append((int(live), r["id"]))
        try:
            with transaction(self.conn):
                self.conn.executemany("UPDATE ledger_forecasts SET live = ? WHERE id = ?", marks)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot update the forecast ledger: {exc}") from exc
        log.info("ledger: classified %s older rows (%s live)", len(marks), sum(m[0] for m in marks))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(
        self,
        state: MarketState,
        *,
        created_at: dt.datetime,
        source: Source,
        data_last: dt.date,
    ) -> int:
        """Store both horizons' forecasts of ``state`` if it is live; returns rows added.

        ``data_last`` is the last day of the data the state was built from. A forecast
        that is not live (:func:`is_live`), or a day already recorded, adds nothing.
        """
        if not is_live(state.as_of, data_last, created_at, state.synthetic):
            log.debug("ledger: %s is not a live forecast; not recorded", state.as_of)
            return 0
        rows = [
            (
                state.ticker,
                state.as_of.isoformat(),
                f.horizon,
                state.inputs_hash,
                state.playbook_version,
                f.call,
                f.prob_up,
                f.base_rate,
                int(state.synthetic),
                source,
                created_at.isoformat(),
            )
            for f in (state.tomorrow, state.next_5_days)
        ]
        try:
            with transaction(self.conn):
                before = self.conn.total_changes
                self.conn.executemany(
                    "INSERT OR IGNORE INTO ledger_forecasts (ticker, as_of, horizon, "
                    "inputs_hash, playbook_version, call, prob_up, base_rate, synthetic, "
                    "source, created_at, live) SELECT ?,?,?,?,?,?,?,?,?,?,?,1 WHERE NOT EXISTS "
                    "(SELECT 1 FROM ledger_forecasts WHERE ticker = ? AND as_of = ? "
                    "AND horizon = ? AND live = 1)",
                    [(*r, r[0], r[1], r[2]) for r in rows],
                )
                added = self.conn.total_changes - before
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the forecast ledger at {self.path}: {exc}") from exc
        log.debug("ledger: %s new rows for %s %s", added, state.ticker, state.as_of)
        return int(added)

    def entries(self, ticker: str | None = None, *, live_only: bool = True) -> list[LedgerEntry]:
        """The ledger's rows (live ones only unless ``live_only`` is False)."""
        where = ["live = 1"] if live_only else []
        args: tuple[str, ...] = ()
        if ticker is not None:
            where.append("ticker = ?")
            args = (ticker,)
        sql = "SELECT * FROM ledger_forecasts" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self.conn.execute(sql + " ORDER BY as_of, horizon, id", args).fetchall()
        return [
            LedgerEntry(
                ticker=r["ticker"],
                as_of=dt.date.fromisoformat(r["as_of"]),
                horizon=r["horizon"],
                inputs_hash=r["inputs_hash"],
                playbook_version=r["playbook_version"],
                call=r["call"],
                prob_up=r["prob_up"],
                base_rate=r["base_rate"],
                synthetic=bool(r["synthetic"]),
                source=r["source"],
                created_at=dt.datetime.fromisoformat(r["created_at"]),
                outcome_date=None
                if r["outcome_date"] is None
                else dt.date.fromisoformat(r["outcome_date"]),
                realized_return=r["realized_return"],
                outcome_up=None if r["outcome_up"] is None else bool(r["outcome_up"]),
            )
            for r in rows
        ]

    def fill_outcomes(self, frame: pd.DataFrame, ticker: str = "IWM") -> int:
        """Fill outcomes of open rows of ``ticker`` that ``frame`` now covers; returns count.

        ``frame`` is a daily frame (``adj_close`` on a date index). A row dated ``t`` is
        filled when ``t`` is a row of the frame and the frame has ``h`` more rows after it.
        """
        dates = pd.DatetimeIndex(frame.index)
        px = frame["adj_close"].to_numpy(dtype=np.float64)
        open_rows = self.conn.execute(
            "SELECT id, as_of, horizon FROM ledger_forecasts "
            "WHERE ticker = ? AND outcome_up IS NULL AND live = 1",
            (ticker,),
        ).fetchall()
        updates = []
        for r in open_rows:
            ts = pd.Timestamp(r["as_of"])
            i = int(dates.searchsorted(ts))
            j = i + int(r["horizon"])
            if i >= len(dates) or dates[i] != ts or j >= len(dates):
                continue
            if not (np.isfinite(px[i]) and np.isfinite(px[j])):
                continue
            ret = float(px[j] / px[i] - 1.0)
            updates.append((dates[j].date().isoformat(), ret, int(ret > 0), r["id"]))
        if updates:
            try:
                with transaction(self.conn):
                    self.conn.executemany(
                        "UPDATE ledger_forecasts SET outcome_date = ?, realized_return = ?, "
                        "outcome_up = ? WHERE id = ?",
                        updates,
                    )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot update the forecast ledger: {exc}") from exc
        return len(updates)

    def scorecard(self, ticker: str | None = None, include_synthetic: bool = False) -> Scorecard:
        """Score the live rows with an outcome like the walk-forward does."""
        entries = self.entries(ticker)
        every = self.entries(ticker, live_only=False)
        synthetic = [e for e in entries if e.synthetic]
        kept = entries if include_synthetic else [e for e in entries if not e.synthetic]
        filled = [e for e in kept if e.outcome_up is not None]
        scores = []
        for h in sorted({e.horizon for e in filled}):
            es = [e for e in filled if e.horizon == h]
            scores.append(
                score(
                    h,
                    [e.prob_up for e in es],
                    [e.base_rate for e in es],
                    [e.call for e in es],
                    [bool(e.outcome_up) for e in es],
                )
            )
        return Scorecard(
            recorded=len(kept),
            filled=len(filled),
            pending=len(kept) - len(filled),
            synthetic_excluded=0 if include_synthetic else len(synthetic),
            scores=tuple(scores),
            not_live_excluded=len(every) - len(entries),
        )
