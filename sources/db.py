"""Shared SQLite plumbing: one database file, several components, versioned migrations.

Each component (market-data store, forecast ledger, model cache, bot state) owns its own
tables and registers an ordered list of migration scripts. :func:`migrate` applies the
ones not yet applied, each in its own transaction, and records the component's version
in ``schema_versions``. Connections use WAL so the bot can read while ``update`` writes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from engine.errors import StoreError

log = logging.getLogger(__name__)

_VERSIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version   INTEGER NOT NULL
)
"""


def connect(path: str | Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """Open (creating parent folders) a SQLite database in WAL mode.

    ``path`` may be ``":memory:"``. The connection uses autocommit mode
    (``isolation_level=None``); use :func:`transaction` for atomic writes.
    """
    try:
        if str(path) != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), timeout=timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the database at {path}: {exc}") from exc
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; roll back on any exception.

    Either every statement inside the block lands or none does, so an interrupted
    update leaves the database as it was.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, component: str, scripts: Sequence[str]) -> int:
    """Apply the migrations of ``component`` that are not applied yet.

    ``scripts[i]`` takes the component from version ``i`` to ``i + 1``. Returns the
    version after migrating. A database newer than this code is refused.
    """
    try:
        conn.execute(_VERSIONS_DDL)
        while True:
            # BEGIN IMMEDIATE takes the write lock before the version is read, so two
            # processes (or threads) opening a new database never apply a step twice.
            with transaction(conn):
                row = conn.execute(
                    "SELECT version FROM schema_versions WHERE component = ?", (component,)
                ).fetchone()
                current = int(row[0]) if row else 0
                if current > len(scripts):
                    raise StoreError(
                        f"the database's {component} schema is version {current}, newer than "
                        f"this program understands ({len(scripts)}); upgrade iwm-analyst"
                    )
                if current == len(scripts):
                    return current
                for statement in _split_sql(scripts[current]):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_versions(component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, current + 1),
                )
            log.info("migrated %s schema to version %s", component, current + 1)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot migrate the {component} tables: {exc}") from exc


def _split_sql(script: str) -> list[str]:
    """Split a script into statements at each semicolon that completes one.

    ``sqlite3.complete_statement`` knows about quotes and comments, so a semicolon
    inside a string literal does not split.
    """
    statements: list[str] = []
    buf = ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                statements.append(buf.strip())
            buf = ""
    if buf.strip(" \n\t;"):
        statements.append(buf.strip())
    return statements
