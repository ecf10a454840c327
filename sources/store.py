"""The local market-data store: SQLite tables for every series, with provenance.

Tables (component ``store`` of :mod:`sources.db`):

* ``daily_bars``   - OHLC as traded plus ``adj_close`` and volume, per ticker and date;
* ``vix``          - CBOE VIX daily OHLC (index points);
* ``dark_pool``    - FINRA consolidated short volume, total volume and the buy/sell ratio;
* ``gex_snapshots``- one row per ticker, trading day, underlying and method: net GEX (USD
  per 1% move), flip, walls and the chain's own as-of time. ``underlying`` is whose
  gamma it is (IWM, or SPX standing in), ``method`` how it was made (``chain``: computed
  here from an option chain; ``history``: imported from a file, carrying only
  ``net_gex``), so different series never overwrite each other;
* ``gex_strikes``  - per-strike detail of the ticker's chain snapshot of a day.

Every row records its ``source`` (URLs without credentials or query strings, see
:mod:`sources.urls`) and ``fetched_at`` (UTC ISO time). Writes are upserts
that only touch a row when a value differs, so writing the same data twice changes
nothing; each batch runs in one transaction, so a failure leaves the store as it was.
Dates are stored as ISO ``YYYY-MM-DD`` text.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from engine.errors import StoreError
from engine.gex import GexResult
from engine.series import AuxSeries, Series
from sources.db import connect, migrate, transaction
from sources.urls import redact_urls

log = logging.getLogger(__name__)

MIGRATIONS: Final = (
    """
    CREATE TABLE daily_bars (
        ticker TEXT NOT NULL, date TEXT NOT NULL,
        open REAL, high REAL, low REAL, close REAL NOT NULL, adj_close REAL, volume REAL,
        source TEXT NOT NULL, fetched_at TEXT NOT NULL,
        PRIMARY KEY (ticker, date)
    );
    CREATE TABLE vix (
        date TEXT PRIMARY KEY, open REAL, high REAL, low REAL, close REAL NOT NULL,
        source TEXT NOT NULL, fetched_at TEXT NOT NULL
    );
    CREATE TABLE dark_pool (
        ticker TEXT NOT NULL, date TEXT NOT NULL,
        short_volume REAL, short_exempt_volume REAL, total_volume REAL, ratio REAL NOT NULL,
        source TEXT NOT NULL, fetched_at TEXT NOT NULL,
        PRIMARY KEY (ticker, date)
    );
    CREATE TABLE gex_snapshots (
        ticker TEXT NOT NULL, date TEXT NOT NULL, as_of TEXT, spot REAL,
        net_gex REAL NOT NULL, call_gex REAL, put_gex REAL, net_gex_ex_same_day REAL,
        flip_level REAL, call_wall REAL, put_wall REAL, share_of_adv REAL, contracts INTEGER,
        source TEXT NOT NULL, fetched_at TEXT NOT NULL,
        PRIMARY KEY (ticker, date)
    );
    CREATE TABLE gex_strikes (
        ticker TEXT NOT NULL, date TEXT NOT NULL, strike REAL NOT NULL,
        call_gex REAL NOT NULL, put_gex REAL NOT NULL, net_gex REAL NOT NULL,
        PRIMARY KEY (ticker, date, strike),
        FOREIGN KEY (ticker, date) REFERENCES gex_snapshots (ticker, date) ON DELETE CASCADE
    );
    """,
    # 2: every GEX value carries its underlying and method, so IWM's own gamma (chain
    # snapshots, imported IWM histories) and a stand-in (SPX from DIX.csv) live side by
    # side instead of overwriting each other. Existing rows: DIX imports are SPX
    # histories, 'chain:' rows IWM chain snapshots, anything else the ticker's history.
    # Strikes belong to the ticker's chain snapshot of their day (no foreign key: the
    # snapshot's key is now longer; save_gex_snapshot keeps the two in step).
    """
    CREATE TABLE gex_snapshots_v2 (
        ticker TEXT NOT NULL, date TEXT NOT NULL,
        underlying TEXT NOT NULL, method TEXT NOT NULL CHECK (method IN ('chain', 'history')),
        as_of TEXT, spot REAL,
        net_gex REAL NOT NULL, call_gex REAL, put_gex REAL, net_gex_ex_same_day REAL,
        flip_level REAL, call_wall REAL, put_wall REAL, share_of_adv REAL, contracts INTEGER,
        source TEXT NOT NULL, fetched_at TEXT NOT NULL,
        PRIMARY KEY (ticker, date, underlying, method)
    );
    INSERT INTO gex_snapshots_v2
    SELECT ticker, date,
           CASE WHEN source LIKE '%DIX%' THEN 'SPX' ELSE ticker END,
           CASE WHEN source LIKE 'chain:%' THEN 'chain' ELSE 'history' END,
           as_of, spot, net_gex, call_gex, put_gex, net_gex_ex_same_day, flip_level,
           call_wall, put_wall, share_of_adv, contracts, source, fetched_at
    FROM gex_snapshots;
    CREATE TABLE gex_strikes_v2 (
        ticker TEXT NOT NULL, date TEXT NOT NULL, strike REAL NOT NULL,
        call_gex REAL NOT NULL, put_gex REAL NOT NULL, net_gex REAL NOT NULL,
        PRIMARY KEY (ticker, date, strike)
    );
    INSERT INTO gex_strikes_v2 SELECT ticker, date, strike, call_gex, put_gex, net_gex
    FROM gex_strikes;
    DROP TABLE gex_strikes;
    DROP TABLE gex_snapshots;
    ALTER TABLE gex_snapshots_v2 RENAME TO gex_snapshots;
    ALTER TABLE gex_strikes_v2 RENAME TO gex_strikes;
    """,
    # 3: days a provider had no usable file for (an HTML page, a bad row, not posted),
    # asked for again on every later update until the file is there.
    """
    CREATE TABLE missing_days (
        series TEXT NOT NULL, ticker TEXT NOT NULL, date TEXT NOT NULL,
        reason TEXT NOT NULL, first_seen TEXT NOT NULL, last_try TEXT NOT NULL,
        tries INTEGER NOT NULL,
        PRIMARY KEY (series, ticker, date)
    );
    """,
)

#: How a GEX row was made (see engine.dataset.GexSeries).
GEX_METHODS: Final = ("chain", "history")

# table, key columns, value columns (what a CSV / provider frame must supply)
_TABLES: Final[dict[Series, tuple[str, tuple[str, ...], tuple[str, ...]]]] = {
    "prices": (
        "daily_bars",
        ("ticker", "date"),
        ("open", "high", "low", "close", "adj_close", "volume"),
    ),
    "vix": ("vix", ("date",), ("open", "high", "low", "close")),
    "dark_pool": (
        "dark_pool",
        ("ticker", "date"),
        ("short_volume", "short_exempt_volume", "total_volume", "ratio"),
    ),
    "gex": (
        "gex_snapshots",
        ("ticker", "date", "underlying", "method"),
        (
            "as_of",
            "spot",
            "net_gex",
            "call_gex",
            "put_gex",
            "net_gex_ex_same_day",
            "flip_level",
            "call_wall",
            "put_wall",
            "share_of_adv",
            "contracts",
        ),
    ),
}


#: The table column holding each auxiliary series' daily value. In a daily frame that
#: value is the column named after the series; this is the one place the two meet.
VALUE_COLUMN: Final[dict[AuxSeries, str]] = {"vix": "close", "gex": "net_gex", "dark_pool": "ratio"}


@dataclass(frozen=True)
class SeriesInfo:
    """What the store holds for one series."""

    series: Series
    rows: int
    first_date: dt.date | None
    last_date: dt.date | None
    source: str | None  # the source of the latest row
    fetched_at: str | None


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _cell(value: object) -> object:
    """SQLite-ready scalar: NaN/NaT -> NULL, numpy numbers -> Python numbers."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        item = value.item()
        return None if isinstance(item, float) and item != item else item
    return value


class Store:
    """The market-data tables of the project's SQLite database."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.conn = connect(path)
        migrate(self.conn, "store", MIGRATIONS)
        self._redact_sources()

    def _redact_sources(self) -> None:
        """Strip credentials and query strings from sources stored by older versions."""
        for table, _keys, _values in _TABLES.values():
            rows = self.conn.execute(
                f"SELECT DISTINCT source FROM {table} WHERE source LIKE '%://%' AND "
                "(source LIKE '%?%' OR source LIKE '%@%' OR source LIKE '%#%')"
            ).fetchall()
            for (source,) in rows:
                clean = redact_urls(source)
                if clean != source:
                    with self.batch() as conn:
                        conn.execute(
                            f"UPDATE {table} SET source = ? WHERE source = ?", (clean, source)
                        )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[sqlite3.Connection]:
        """One transaction around several writes; nested calls join the outer one."""
        if self.conn.in_transaction:
            yield self.conn
            return
        try:
            with transaction(self.conn) as conn:
                yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the store at {self.path}: {exc}") from exc

    # --- writes -------------------------------------------------------------------
    def upsert(
        self,
        series: Series,
        frame: pd.DataFrame,
        *,
        source: str,
        ticker: str = "IWM",
        fetched_at: str | None = None,
        underlying: str | None = None,
        method: str = "history",
        only_given: bool = False,
    ) -> int:
        """Insert or update rows of ``series``; returns how many rows changed.

        ``frame`` has a date index (or ``date`` column) and the series' value columns
        (missing optional ones become NULL; with ``only_given``, a column the frame does
        not have keeps its stored value). Rows equal to the stored ones are left alone,
        ``source``/``fetched_at`` included. GEX rows are filed under ``underlying``
        (default: the ticker) and ``method``.
        """
        table, keys, values = _TABLES[series]
        if only_given:
            values = tuple(c for c in values if c in frame.columns)
        source = redact_urls(source)
        df = frame.reset_index() if "date" not in frame.columns else frame.copy()
        if "date" not in df.columns:
            df = df.rename(columns={df.columns[0]: "date"})
        df["date"] = pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d")
        for col in values:
            if col not in df.columns:
                df[col] = None
        stamp = fetched_at or utc_now_iso()
        cols = (*keys, *values, "source", "fetched_at")
        changed_cond = " OR ".join(f"{table}.{c} IS NOT excluded.{c}" for c in values) or "0"
        sql = (
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in (*values, "source", "fetched_at"))
            + f" WHERE {changed_cond}"
        )
        if series == "gex" and method not in GEX_METHODS:
            raise StoreError(f"unknown GEX method {method!r}; one of {', '.join(GEX_METHODS)}")
        series_key = (underlying or ticker, method) if series == "gex" else ()
        rows = [
            (
                *((ticker,) if "ticker" in keys else ()),
                rec["date"],
                *series_key,
                *(_cell(rec[c]) for c in values),
                source,
                stamp,
            )
            for rec in df.to_dict("records")
        ]
        with self.batch() as conn:
            before = conn.total_changes
            conn.executemany(sql, rows)
            changed = conn.total_changes - before
        log.info("store: %s %s rows changed of %s (%s)", series, changed, len(rows), source)
        return changed

    def save_gex_snapshot(
        self,
        day: dt.date,
        result: GexResult,
        *,
        source: str,
        ticker: str = "IWM",
        fetched_at: str | None = None,
    ) -> int:
        """Store one day's snapshot and its per-strike detail, atomically."""
        row = pd.DataFrame([{"date": pd.Timestamp(day), **result.summary()}])
        bs = result.by_strike
        strikes = [
            (ticker, day.isoformat(), float(k), float(c), float(p), float(n))
            for k, c, p, n in zip(
                bs.index.to_numpy(dtype="float64"),
                bs["call_gex"].to_numpy(dtype="float64"),
                bs["put_gex"].to_numpy(dtype="float64"),
                bs["net_gex"].to_numpy(dtype="float64"),
                strict=True,
            )
        ]
        with self.batch() as conn:
            changed = self.upsert(
                "gex", row, source=source, ticker=ticker, fetched_at=fetched_at, method="chain"
            )
            before = conn.total_changes
            conn.execute(
                "DELETE FROM gex_strikes WHERE ticker = ? AND date = ? AND strike NOT IN "
                f"({', '.join('?' * len(strikes))})",
                (ticker, day.isoformat(), *(s[2] for s in strikes)),
            )
            conn.executemany(
                "INSERT INTO gex_strikes (ticker, date, strike, call_gex, put_gex, net_gex) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ticker, date, strike) DO UPDATE SET "
                "call_gex = excluded.call_gex, put_gex = excluded.put_gex, "
                "net_gex = excluded.net_gex WHERE gex_strikes.net_gex IS NOT excluded.net_gex "
                "OR gex_strikes.call_gex IS NOT excluded.call_gex",
                strikes,
            )
            changed += conn.total_changes - before
        return changed

    # --- reads --------------------------------------------------------------------
    def read(self, series: Series, ticker: str = "IWM") -> pd.DataFrame:
        """A series as a DataFrame indexed by ``date`` (datetime64), sorted ascending.

        GEX rows also carry ``underlying`` and ``method``; a day may then appear once per
        GEX series.
        """
        table, keys, values = _TABLES[series]
        where = " WHERE ticker = ?" if "ticker" in keys else ""
        args: Sequence[str] = (ticker,) if where else ()
        extra = "underlying, method, " if series == "gex" else ""
        try:
            df = pd.read_sql_query(
                f"SELECT date, {extra}{', '.join(values)}, source, fetched_at FROM {table}"
                f"{where} ORDER BY date, {'underlying, method' if extra else 'date'}",
                self.conn,
                params=list(args),
            )
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise StoreError(f"cannot read {series} from the store: {exc}") from exc
        df["date"] = pd.to_datetime(df["date"])
        for col in values:
            if col != "as_of":
                df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        return df.set_index("date")

    def read_values(self, series: AuxSeries, ticker: str = "IWM") -> pd.Series | None:
        """An auxiliary series' daily values named after the series, or None when empty.

        For GEX, only the ticker's own chain snapshots (the store's GEX series are read
        apart by :mod:`sources.store_dataset`).
        """
        frame = self.read(series, ticker)
        if series == "gex":
            frame = frame[(frame["underlying"] == ticker) & (frame["method"] == "chain")]
        if frame.empty:
            return None
        return frame[VALUE_COLUMN[series]].rename(series)

    def upsert_values(
        self,
        series: AuxSeries,
        frame: pd.DataFrame,
        *,
        source: str,
        ticker: str = "IWM",
        underlying: str | None = None,
        only_given: bool = False,
    ) -> int:
        """:meth:`upsert` a daily-frame style table whose value column is named ``series``
        (GEX: an imported history of ``underlying``)."""
        return self.upsert(
            series,
            frame.rename(columns={series: VALUE_COLUMN[series]}),
            source=source,
            ticker=ticker,
            underlying=underlying,
            only_given=only_given,
        )

    def read_strikes(self, day: dt.date, ticker: str = "IWM") -> pd.DataFrame:
        return pd.read_sql_query(
            "SELECT strike, call_gex, put_gex, net_gex FROM gex_strikes "
            "WHERE ticker = ? AND date = ? ORDER BY strike",
            self.conn,
            params=[ticker, day.isoformat()],
        ).set_index("strike")

    def last_date(self, series: Series, ticker: str = "IWM") -> dt.date | None:
        table, keys, _ = _TABLES[series]
        where = " WHERE ticker = ?" if "ticker" in keys else ""
        row = self.conn.execute(
            f"SELECT MAX(date) FROM {table}{where}", (ticker,) if where else ()
        ).fetchone()
        return dt.date.fromisoformat(row[0]) if row and row[0] else None

    def info(self, series: Series, ticker: str = "IWM") -> SeriesInfo:
        table, keys, _ = _TABLES[series]
        where = " WHERE ticker = ?" if "ticker" in keys else ""
        args = (ticker,) if where else ()
        n, first, last = self.conn.execute(
            f"SELECT COUNT(*), MIN(date), MAX(date) FROM {table}{where}", args
        ).fetchone()
        src = self.conn.execute(
            f"SELECT source, fetched_at FROM {table}{where} ORDER BY date DESC LIMIT 1", args
        ).fetchone()
        return SeriesInfo(
            series=series,
            rows=int(n),
            first_date=dt.date.fromisoformat(first) if first else None,
            last_date=dt.date.fromisoformat(last) if last else None,
            source=src[0] if src else None,
            fetched_at=src[1] if src else None,
        )

    def count_after(self, series: Series, day: dt.date, ticker: str = "IWM") -> int:
        """Rows of ``series`` dated after ``day``."""
        table, keys, _ = _TABLES[series]
        where = " AND ticker = ?" if "ticker" in keys else ""
        args = (day.isoformat(), ticker) if where else (day.isoformat(),)
        row = self.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE date > ?{where}", args)
        return int(row.fetchone()[0])

    def delete_after(self, day: dt.date, ticker: str = "IWM") -> dict[Series, int]:
        """Delete every series' rows dated after ``day`` (one transaction); counts."""
        out: dict[Series, int] = {}
        with self.batch() as conn:
            for series, (table, keys, _) in _TABLES.items():
                where = " AND ticker = ?" if "ticker" in keys else ""
                args = (day.isoformat(), ticker) if where else (day.isoformat(),)
                out[series] = conn.execute(
                    f"DELETE FROM {table} WHERE date > ?{where}", args
                ).rowcount
            conn.execute(
                "DELETE FROM gex_strikes WHERE date > ? AND ticker = ?", (day.isoformat(), ticker)
            )
            conn.execute(
                "DELETE FROM missing_days WHERE date > ? AND ticker = ?", (day.isoformat(), ticker)
            )
        return out

    # --- days a provider could not give ---------------------------------------------
    def missing_days(self, series: Series, ticker: str = "IWM") -> dict[dt.date, str]:
        """Days recorded as missing for ``series`` (to ask for again), with the reason."""
        rows = self.conn.execute(
            "SELECT date, reason FROM missing_days WHERE series = ? AND ticker = ? ORDER BY date",
            (series, ticker),
        ).fetchall()
        return {dt.date.fromisoformat(r[0]): str(r[1]) for r in rows}

    def note_missing(
        self, series: Series, reasons: dict[dt.date, str], ticker: str = "IWM"
    ) -> None:
        """Record (or count another try of) days without a usable file."""
        stamp = utc_now_iso()
        with self.batch() as conn:
            conn.executemany(
                "INSERT INTO missing_days (series, ticker, date, reason, first_seen, last_try, "
                "tries) VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (series, ticker, date) DO "
                "UPDATE SET reason = excluded.reason, last_try = excluded.last_try, "
                "tries = missing_days.tries + 1",
                [(series, ticker, d.isoformat(), r, stamp, stamp) for d, r in reasons.items()],
            )

    def clear_missing(self, series: Series, days: list[dt.date], ticker: str = "IWM") -> None:
        """Forget missing days that now have data."""
        with self.batch() as conn:
            conn.executemany(
                "DELETE FROM missing_days WHERE series = ? AND ticker = ? AND date = ?",
                [(series, ticker, d.isoformat()) for d in days],
            )

    def is_empty(self, ticker: str = "IWM") -> bool:
        return self.info("prices", ticker).rows == 0
