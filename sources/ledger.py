"""The forecast ledger: every forecast the product makes, kept in SQLite and scored later.

One row per (ticker, as_of, horizon, inputs_hash): recording the same forecast twice
(same data, same day) is a no-op, so re-running ``forecast`` does not inflate the track
record. When data covering ``as_of + h`` trading days arrives, :meth:`Ledger.fill_outcomes`
stores the realised return ``adj_close(t+h) / adj_close(t) - 1`` and whether it rose.
:meth:`Ledger.scorecard` scores the filled rows exactly as the walk-forward does.

Times are passed in (``created_at``, ``now``); this module reads no clock.
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
)

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

    recorded: int
    filled: int
    pending: int
    synthetic_excluded: int
    scores: tuple[HorizonScore, ...]


class Ledger:
    """Forecast ledger on the shared SQLite database (component ``ledger``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.conn = connect(path)
        migrate(self.conn, COMPONENT, MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, state: MarketState, *, created_at: dt.datetime, source: Source) -> int:
        """Store both horizons' forecasts of ``state``; returns how many rows were new."""
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
                    "source, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
                added = self.conn.total_changes - before
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the forecast ledger at {self.path}: {exc}") from exc
        log.debug("ledger: %s new rows for %s %s", added, state.ticker, state.as_of)
        return int(added)

    def entries(self, ticker: str | None = None) -> list[LedgerEntry]:
        sql = "SELECT * FROM ledger_forecasts"
        args: tuple[str, ...] = ()
        if ticker is not None:
            sql += " WHERE ticker = ?"
            args = (ticker,)
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
            "WHERE ticker = ? AND outcome_up IS NULL",
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
        """Score the filled rows like the walk-forward (demo-data forecasts left out)."""
        entries = self.entries(ticker)
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
        )
