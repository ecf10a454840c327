"""SQLite cache of model replies, per-key single flight, and the daily token ledger.

One model call per key (ticker, as-of, state hash, prompt version, model): the first
request for a key calls the model while later ones for the same key wait on a per-key
lock and then read the stored reply, so a hundred ``!forecast`` on one morning cost one
call. A waiter waits only until its own deadline (``timeout``), then answers without
the model: a slow call never holds other people's requests beyond their deadline.
Only replies that passed every check are stored. Token use is summed per UTC day.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import StoreError
from sources.db import connect, migrate, transaction

log = logging.getLogger(__name__)

MIGRATIONS = (
    """
    CREATE TABLE llm_cache (
        key TEXT PRIMARY KEY, kind TEXT NOT NULL, model TEXT NOT NULL,
        reply TEXT NOT NULL, created_at TEXT NOT NULL
    );
    CREATE TABLE llm_usage (
        day TEXT NOT NULL, model TEXT NOT NULL, calls INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
        PRIMARY KEY (day, model)
    );
    """,
)


def cache_key(*parts: object) -> str:
    """A stable key from the parts (joined with a separator and hashed)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


class ReplyCache:
    """Thread-safe cache over one SQLite connection."""

    def __init__(self, path: str | Path) -> None:
        self._conn = connect(path)
        migrate(self._conn, "llm_cache", MIGRATIONS)
        self._db_lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def single_flight(self, key: str, timeout: float | None = None) -> Iterator[bool]:
        """Try to hold the per-key lock for at most ``timeout`` seconds (None: wait).

        Yields True while holding it (concurrent callers for ``key`` run one at a time),
        False when the wait timed out (the caller must not call the model).
        """
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        acquired = lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout))
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()

    def get(self, key: str) -> str | None:
        try:
            with self._db_lock:
                row = self._conn.execute(
                    "SELECT reply FROM llm_cache WHERE key = ?", (key,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the model cache: {exc}") from exc
        return str(row[0]) if row else None

    def put(self, key: str, kind: str, model: str, reply: str, created_at: str) -> None:
        try:
            with self._db_lock, transaction(self._conn):
                self._conn.execute(
                    "INSERT OR REPLACE INTO llm_cache(key, kind, model, reply, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key, kind, model, reply, created_at),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the model cache: {exc}") from exc

    def add_usage(self, day: str, model: str, prompt: int, completion: int) -> None:
        try:
            with self._db_lock, transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO llm_usage(day, model, calls, prompt_tokens, completion_tokens) "
                    "VALUES (?, ?, 1, ?, ?) ON CONFLICT(day, model) DO UPDATE SET "
                    "calls = calls + 1, prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
                    "completion_tokens = completion_tokens + excluded.completion_tokens",
                    (day, model, prompt, completion),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot record token usage: {exc}") from exc
        log.info("model %s used %s prompt + %s completion tokens", model, prompt, completion)

    def tokens_on(self, day: str) -> int:
        with self._db_lock:
            row = self._conn.execute(
                "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM llm_usage "
                "WHERE day = ?",
                (day,),
            ).fetchone()
        return int(row[0])
