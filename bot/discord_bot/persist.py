"""The bot's own state in SQLite: conversations, schedules and the morning posts.

Component ``bot_state`` of the shared database.

* Conversations are kept per (channel or thread, user): one person's turns never reach
  another person's prompt. Turns older than the TTL are deleted when read.
* A morning post is one unit per (channel, NYSE day): :meth:`BotState.claim_post`
  takes a lease on it (a crash leaves a lease that expires, so the post is still made);
  the prepared parts (report embeds, chart, notes) are stored before the first message
  goes out; each delivered message id is recorded as it is sent, so a resumed delivery
  sends only the parts still missing; the unit is marked delivered at the end. Every
  write checks the lease owner, so a process that lost its lease cannot clobber.
* Notices (a missing permission, a missed post) are recorded so each is given once a
  day per channel, also across restarts.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
    # Conversations per user (channel-wide turns cannot be attributed: dropped); morning
    # posts as units with a lease, their parts and the message ids delivered.
    """
    DROP TABLE bot_turns;
    CREATE TABLE bot_turns (
        channel_id INTEGER NOT NULL, user_id INTEGER NOT NULL, at TEXT NOT NULL,
        role TEXT NOT NULL, text TEXT NOT NULL
    );
    CREATE INDEX bot_turns_conversation ON bot_turns (channel_id, user_id, at);
    CREATE TABLE bot_post_units (
        channel_id INTEGER NOT NULL, day TEXT NOT NULL, state TEXT NOT NULL,
        owner TEXT NOT NULL, claimed_at TEXT NOT NULL, lease_until TEXT NOT NULL,
        payload TEXT, chart BLOB, sent TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (channel_id, day)
    );
    INSERT INTO bot_post_units (channel_id, day, state, owner, claimed_at, lease_until)
        SELECT channel_id, day, 'delivered', '', at, at FROM bot_posts;
    DROP TABLE bot_posts;
    CREATE TABLE bot_notices (
        channel_id INTEGER NOT NULL, day TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (channel_id, day, kind)
    );
    """,
)

#: Owner prefix of a post unit or alert claim whose last send may have landed: whoever
#: claims it next, its previous owner included, counts as resuming it.
UNCERTAIN = "uncertain:"

PostState = Literal["claimed", "delivering", "delivered", "failed", "missed"]
#: States after which nothing more is sent for that day.
FINAL_STATES: tuple[PostState, ...] = ("delivered", "failed", "missed")


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


class LeaseLost(Exception):
    """Another process took over this post (our lease had expired)."""


@dataclass(frozen=True)
class PostUnit:
    """One morning post: its state, lease, prepared parts and the messages delivered."""

    channel_id: int
    day: dt.date
    state: PostState
    owner: str
    claimed_at: dt.datetime
    lease_until: dt.datetime
    parts: list[dict[str, Any]] | None = None
    chart: bytes | None = None
    sent: dict[int, int] = field(default_factory=dict)  # part index -> message id
    attempts: int = 0


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
        migrate(self._conn, "bot_alerts", ALERT_MIGRATIONS)
        self.alerts = AlertRecords(self._conn, self._lock)

    def close(self) -> None:
        self._conn.close()

    # --- conversations (per channel or thread, and user) ------------------------------
    def add_turn(
        self, channel_id: int, user_id: int, role: str, text: str, at: dt.datetime
    ) -> None:
        with self._lock, transaction(self._conn):
            self._conn.execute(
                "INSERT INTO bot_turns(channel_id, user_id, at, role, text) VALUES (?, ?, ?, ?, ?)",
                (channel_id, user_id, _iso(at), role, text),
            )

    def history(
        self, channel_id: int, user_id: int, now: dt.datetime, ttl: dt.timedelta
    ) -> list[tuple[str, str]]:
        """This user's turns in this channel newer than ``ttl``; older ones are deleted."""
        with self._lock, transaction(self._conn):
            self._conn.execute("DELETE FROM bot_turns WHERE at < ?", (_iso(now - ttl),))
            rows = self._conn.execute(
                "SELECT role, text FROM bot_turns WHERE channel_id = ? AND user_id = ? "
                "ORDER BY at, rowid",
                (channel_id, user_id),
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

    # --- morning posts -----------------------------------------------------------------
    def last_posts(self) -> dict[int, dt.date]:
        """Per channel, the latest day whose post is settled (delivered, failed or missed)."""
        marks = ",".join("?" * len(FINAL_STATES))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT channel_id, MAX(day) FROM bot_post_units WHERE state IN ({marks}) "
                "GROUP BY channel_id",
                FINAL_STATES,
            ).fetchall()
        return {int(r[0]): dt.date.fromisoformat(r[1]) for r in rows}

    def post(self, channel_id: int, day: dt.date) -> PostUnit | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM bot_post_units WHERE channel_id = ? AND day = ?",
                (channel_id, day.isoformat()),
            ).fetchone()
        return _unit(row) if row is not None else None

    def claim_post(
        self,
        channel_id: int,
        day: dt.date,
        owner: str,
        now: dt.datetime,
        lease: dt.timedelta,
        *,
        new: bool = True,
    ) -> PostUnit | None:
        """Take the lease on this post, or None (settled, or leased by someone else).

        A unit with no row is created only when ``new`` (inside the posting window); an
        unsettled unit whose lease expired (a crash) or that ``owner`` holds is taken
        over with what it had prepared and delivered.
        """
        until = _iso(now + lease)
        with self._lock, transaction(self._conn):
            row = self._conn.execute(
                "SELECT * FROM bot_post_units WHERE channel_id = ? AND day = ?",
                (channel_id, day.isoformat()),
            ).fetchone()
            if row is None:
                if not new:
                    return None
                self._conn.execute(
                    "INSERT INTO bot_post_units (channel_id, day, state, owner, claimed_at, "
                    "lease_until) VALUES (?, ?, 'claimed', ?, ?, ?)",
                    (channel_id, day.isoformat(), owner, _iso(now), until),
                )
            elif row["state"] in FINAL_STATES or (
                row["owner"] != owner and row["lease_until"] > _iso(now)
            ):
                return None
            else:
                self._conn.execute(
                    "UPDATE bot_post_units SET owner = ?, lease_until = ? "
                    "WHERE channel_id = ? AND day = ?",
                    (owner, until, channel_id, day.isoformat()),
                )
            row = self._conn.execute(
                "SELECT * FROM bot_post_units WHERE channel_id = ? AND day = ?",
                (channel_id, day.isoformat()),
            ).fetchone()
        return _unit(row)

    def _owned_update(self, unit: PostUnit, owner: str, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock, transaction(self._conn):
            cur = self._conn.execute(
                f"UPDATE bot_post_units SET {sql} WHERE channel_id = ? AND day = ? AND owner = ?",
                (*args, unit.channel_id, unit.day.isoformat(), owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"post {unit.channel_id}/{unit.day} was taken over")

    def save_parts(
        self,
        unit: PostUnit,
        owner: str,
        parts: list[dict[str, Any]],
        chart: bytes | None,
        lease_until: dt.datetime,
    ) -> PostUnit:
        """Store the prepared parts before anything is sent; the unit is now delivering."""
        self._owned_update(
            unit,
            owner,
            "state = 'delivering', payload = ?, chart = ?, lease_until = ?",
            (json.dumps(parts), chart, _iso(lease_until)),
        )
        return PostUnit(
            unit.channel_id, unit.day, "delivering", owner, unit.claimed_at,
            lease_until, parts, chart, dict(unit.sent), unit.attempts,
        )  # fmt: skip

    def record_part(
        self, unit: PostUnit, owner: str, index: int, message_id: int, lease_until: dt.datetime
    ) -> None:
        """One part went out as ``message_id``; the lease is renewed."""
        unit.sent[index] = message_id
        self._owned_update(
            unit,
            owner,
            "sent = ?, lease_until = ?",
            (json.dumps({str(k): v for k, v in unit.sent.items()}), _iso(lease_until)),
        )

    def release_post(
        self, unit: PostUnit, owner: str, now: dt.datetime, *, uncertain: bool = False
    ) -> None:
        """Sending failed: count the attempt and let the next tick resume at once.
        ``uncertain``: the last send may have landed (a timeout, a Discord 5xx), so the
        owner gets the :data:`UNCERTAIN` prefix and the next claim, by ``owner`` too,
        reads the channel before sending."""
        held = f"{UNCERTAIN}{owner}" if uncertain else owner
        self._owned_update(
            unit, owner, "attempts = attempts + 1, lease_until = ?, owner = ?", (_iso(now), held)
        )

    def settle_post(self, unit: PostUnit, owner: str, state: PostState) -> None:
        """Delivered, failed or missed: nothing more is sent; the parts are let go."""
        self._owned_update(unit, owner, "state = ?, payload = NULL, chart = NULL", (state,))

    def mark_missed(self, channel_id: int, day: dt.date, now: dt.datetime) -> None:
        """The window passed with nothing sent: settle the day (creating its row)."""
        with self._lock, transaction(self._conn):
            self._conn.execute(
                "INSERT INTO bot_post_units (channel_id, day, state, owner, claimed_at, "
                "lease_until) VALUES (?, ?, 'missed', '', ?, ?) ON CONFLICT(channel_id, day) "
                "DO UPDATE SET state = 'missed', payload = NULL, chart = NULL",
                (channel_id, day.isoformat(), _iso(now), _iso(now)),
            )

    def note_once(self, channel_id: int, day: dt.date, kind: str, now: dt.datetime) -> bool:
        """True the first time ``kind`` is noted for this channel and day."""
        with self._lock, transaction(self._conn):
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO bot_notices VALUES (?, ?, ?, ?)",
                (channel_id, day.isoformat(), kind, _iso(now)),
            )
        return cur.rowcount == 1


def _unit(row: sqlite3.Row) -> PostUnit:
    sent = {int(k): int(v) for k, v in json.loads(row["sent"] or "{}").items()}
    return PostUnit(
        channel_id=int(row["channel_id"]),
        day=dt.date.fromisoformat(row["day"]),
        state=row["state"],
        owner=str(row["owner"]),
        claimed_at=dt.datetime.fromisoformat(row["claimed_at"]),
        lease_until=dt.datetime.fromisoformat(row["lease_until"]),
        parts=json.loads(row["payload"]) if row["payload"] else None,
        chart=bytes(row["chart"]) if row["chart"] is not None else None,
        sent=sent,
        attempts=int(row["attempts"]),
    )


# --- alerts (component ``bot_alerts``, its own schema version) ------------------------
ALERT_MIGRATIONS = (
    """
    CREATE TABLE bot_alert_channels (
        channel_id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL, enabled INTEGER NOT NULL,
        since TEXT NOT NULL, changed_at TEXT NOT NULL
    );
    CREATE TABLE bot_alert_posts (
        channel_id INTEGER NOT NULL, day TEXT NOT NULL, key TEXT NOT NULL,
        state TEXT NOT NULL, owner TEXT NOT NULL, claimed_at TEXT NOT NULL,
        lease_until TEXT NOT NULL, content TEXT NOT NULL, message_id INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (channel_id, day, key)
    );
    """,
)

AlertPostState = Literal["claimed", "delivered", "failed"]


@dataclass(frozen=True)
class AlertChannel:
    """A channel's alert subscription; ``since`` is the first session it is told about."""

    channel_id: int
    guild_id: int
    enabled: bool
    since: dt.date


@dataclass(frozen=True)
class AlertClaim:
    """The lease on one alert in one channel. ``resumed``: another owner held it before
    (a process that died mid-send), so the message may already be in the channel; a
    send that failed in this process raised, so nothing of it is there."""

    channel_id: int
    day: dt.date
    key: str
    content: str
    owner: str
    claimed_at: dt.datetime
    attempts: int
    resumed: bool


class AlertRecords:
    """Alert subscriptions and the exactly-once record of each alert per channel.

    An alert is one message per (channel, session, event key): claimed with a lease
    before it is sent, marked delivered with its message id, released (the attempt
    counted) when the send fails, and given up after too many attempts. A delivered or
    given-up alert is never claimed again, also after a restart.
    """

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def set_channel(
        self, channel_id: int, guild_id: int, enabled: bool, since: dt.date, now: dt.datetime
    ) -> AlertChannel:
        """Turn alerts on (from session ``since``) or off; turning on again moves ``since``
        forward, so what happened while they were off is not replayed."""
        with self._lock, transaction(self._conn):
            self._conn.execute(
                "INSERT INTO bot_alert_channels VALUES (?, ?, ?, ?, ?) ON CONFLICT(channel_id) "
                "DO UPDATE SET guild_id = excluded.guild_id, enabled = excluded.enabled, "
                "since = CASE WHEN excluded.enabled = 1 AND bot_alert_channels.enabled = 0 "
                "THEN excluded.since ELSE bot_alert_channels.since END, "
                "changed_at = excluded.changed_at",
                (channel_id, guild_id, int(enabled), since.isoformat(), _iso(now)),
            )
        found = self.channel(channel_id)
        assert found is not None
        return found

    def channel(self, channel_id: int) -> AlertChannel | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM bot_alert_channels WHERE channel_id = ?", (channel_id,)
            ).fetchone()
        return _alert_channel(row) if row is not None else None

    def channels(self) -> list[AlertChannel]:
        """The channels with alerts on."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM bot_alert_channels WHERE enabled = 1 ORDER BY channel_id"
            ).fetchall()
        return [_alert_channel(r) for r in rows]

    def state(self, channel_id: int, day: dt.date, key: str) -> AlertPostState | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT state FROM bot_alert_posts WHERE channel_id = ? AND day = ? AND key = ?",
                (channel_id, day.isoformat(), key),
            ).fetchone()
        return row[0] if row is not None else None

    def delivered(self, channel_id: int, limit: int = 5) -> list[tuple[dt.date, str, str]]:
        """The latest alerts delivered in a channel: (session, key, content), newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT day, key, content FROM bot_alert_posts WHERE channel_id = ? AND "
                "state = 'delivered' ORDER BY day DESC, claimed_at DESC LIMIT ?",
                (channel_id, limit),
            ).fetchall()
        return [(dt.date.fromisoformat(r[0]), str(r[1]), str(r[2])) for r in rows]

    def claim(
        self,
        channel_id: int,
        day: dt.date,
        key: str,
        content: str,
        owner: str,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> AlertClaim | None:
        """The lease on this alert, or None (settled, or leased by someone else)."""
        args = (channel_id, day.isoformat(), key)
        where = "WHERE channel_id = ? AND day = ? AND key = ?"
        with self._lock, transaction(self._conn):
            row = self._conn.execute(f"SELECT * FROM bot_alert_posts {where}", args).fetchone()
            if row is None:
                self._conn.execute(
                    "INSERT INTO bot_alert_posts (channel_id, day, key, state, owner, "
                    "claimed_at, lease_until, content) VALUES (?, ?, ?, 'claimed', ?, ?, ?, ?)",
                    (*args, owner, _iso(now), _iso(now + lease), content),
                )
                return AlertClaim(channel_id, day, key, content, owner, now, 0, resumed=False)
            if row["state"] != "claimed" or (
                row["owner"] != owner and row["lease_until"] > _iso(now)
            ):
                return None
            self._conn.execute(
                f"UPDATE bot_alert_posts SET owner = ?, lease_until = ? {where}",
                (owner, _iso(now + lease), *args),
            )
        return AlertClaim(
            channel_id,
            day,
            key,
            str(row["content"]),
            owner,
            dt.datetime.fromisoformat(row["claimed_at"]),
            int(row["attempts"]),
            resumed=row["owner"] != owner,
        )

    def _owned(self, claim: AlertClaim, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock, transaction(self._conn):
            cur = self._conn.execute(
                f"UPDATE bot_alert_posts SET {sql} WHERE channel_id = ? AND day = ? AND key = ? "
                "AND owner = ? AND state = 'claimed'",
                (*args, claim.channel_id, claim.day.isoformat(), claim.key, claim.owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"alert {claim.key} in channel {claim.channel_id} was taken over")

    def mark_delivered(self, claim: AlertClaim, message_id: int) -> None:
        self._owned(claim, "state = 'delivered', message_id = ?", (message_id,))

    def release(self, claim: AlertClaim, now: dt.datetime, *, uncertain: bool = False) -> int:
        """The send failed: count the attempt; the next check may retry at once.
        ``uncertain``: the send may have landed (a timeout, a Discord 5xx), so the next
        claim, by any owner, is ``resumed`` and reads the channel first. Returns the
        attempts so far."""
        owner = f"{UNCERTAIN}{claim.owner}" if uncertain else claim.owner
        self._owned(
            claim, "attempts = attempts + 1, lease_until = ?, owner = ?", (_iso(now), owner)
        )
        return claim.attempts + 1

    def give_up(self, claim: AlertClaim) -> None:
        self._owned(claim, "state = 'failed'", ())


def _alert_channel(row: sqlite3.Row) -> AlertChannel:
    return AlertChannel(
        channel_id=int(row["channel_id"]),
        guild_id=int(row["guild_id"]),
        enabled=bool(row["enabled"]),
        since=dt.date.fromisoformat(row["since"]),
    )
