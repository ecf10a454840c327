"""The bot's own state in SQLite: conversations, schedules and the posts already made.

Component ``bot_state`` of the shared database. A post is *claimed* (a row inserted) in
a transaction before it is sent and released if sending fails, so each channel gets
exactly one morning post per trading day, also across restarts.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from sources.db import connect, migrate, transaction

MIGRATIONS = (
    """
    CREATE TABLE bot_turns (
        channel_id INTEGER NOT NULL, at TEXT NOT NULL, role TEXT NOT NULL, text TEXT NOT NULL
    );
    CREATE INDEX bot_turns_channel ON bot_turns (channel_id, at);
    CREATE TABLE bot_forecast_messages (
        message_id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL, at TEXT NOT NULL
    );
    CREATE TABLE bot_schedules (
        channel_id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL, at_time TEXT NOT NULL,
        tz TEXT NOT NULL, enabled INTEGER NOT NULL
    );
    CREATE TABLE bot_posts (
        channel_id INTEGER NOT NULL, day TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (channel_id, day)
    );
    """,
)


@dataclass(frozen=True)
class Schedule:
    channel_id: int
    guild_id: int
    at_time: dt.time
    tz: str
    enabled: bool = True


class BotState:
    def __init__(self, path: str | Path) -> None:
        self._conn = connect(path)
        migrate(self._conn, "bot_state", MIGRATIONS)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    # --- conversations ---------------------------------------------------------------
    def add_turn(self, channel_id: int, role: str, text: str, at: dt.datetime) -> None:
        with self._lock, transaction(self._conn):
            self._conn.execute(
                "INSERT INTO bot_turns(channel_id, at, role, text) VALUES (?, ?, ?, ?)",
                (channel_id, at.isoformat(), role, text),
            )

    def history(
        self, channel_id: int, now: dt.datetime, ttl: dt.timedelta
    ) -> list[tuple[str, str]]:
        """Turns of this channel newer than ``ttl``; older ones are deleted."""
        cutoff = (now - ttl).isoformat()
        with self._lock, transaction(self._conn):
            self._conn.execute("DELETE FROM bot_turns WHERE at < ?", (cutoff,))
            rows = self._conn.execute(
                "SELECT role, text FROM bot_turns WHERE channel_id = ? ORDER BY at",
                (channel_id,),
            ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def remember_forecast(self, message_id: int, channel_id: int, at: dt.datetime) -> None:
        with self._lock, transaction(self._conn):
            self._conn.execute(
                "INSERT OR IGNORE INTO bot_forecast_messages VALUES (?, ?, ?)",
                (message_id, channel_id, at.isoformat()),
            )

    def is_forecast_message(self, message_id: int) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM bot_forecast_messages WHERE message_id = ?", (message_id,)
            ).fetchone()
        return row is not None

    # --- schedules ---------------------------------------------------------------------
    def set_schedule(self, s: Schedule) -> None:
        with self._lock, transaction(self._conn):
            self._conn.execute(
                "INSERT INTO bot_schedules VALUES (?, ?, ?, ?, ?) ON CONFLICT(channel_id) DO "
                "UPDATE SET guild_id = excluded.guild_id, at_time = excluded.at_time, "
                "tz = excluded.tz, enabled = excluded.enabled",
                (s.channel_id, s.guild_id, s.at_time.strftime("%H:%M"), s.tz, int(s.enabled)),
            )

    def schedules(self) -> list[Schedule]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM bot_schedules").fetchall()
        return [
            Schedule(
                channel_id=int(r["channel_id"]),
                guild_id=int(r["guild_id"]),
                at_time=dt.time.fromisoformat(r["at_time"]),
                tz=str(r["tz"]),
                enabled=bool(r["enabled"]),
            )
            for r in rows
        ]

    def last_posts(self) -> dict[int, dt.date]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT channel_id, MAX(day) FROM bot_posts GROUP BY channel_id"
            ).fetchall()
        return {int(r[0]): dt.date.fromisoformat(r[1]) for r in rows}

    def claim_post(self, channel_id: int, day: dt.date, at: dt.datetime) -> bool:
        """True if this call claimed the post (nobody posted for that day yet)."""
        try:
            with self._lock, transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO bot_posts VALUES (?, ?, ?)",
                    (channel_id, day.isoformat(), at.isoformat()),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def release_post(self, channel_id: int, day: dt.date) -> None:
        with self._lock, transaction(self._conn):
            self._conn.execute(
                "DELETE FROM bot_posts WHERE channel_id = ? AND day = ?",
                (channel_id, day.isoformat()),
            )
