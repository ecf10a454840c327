"""Migrations: versioned, idempotent, and safe when several connections race."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine.errors import StoreError
from sources.db import connect, migrate

STEPS = ("CREATE TABLE a (x INTEGER);", "CREATE TABLE b (y TEXT); CREATE INDEX b_y ON b (y);")


def test_migrate_applies_each_step_once(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.sqlite3")
    assert migrate(conn, "demo", STEPS[:1]) == 1
    assert migrate(conn, "demo", STEPS) == 2
    assert migrate(conn, "demo", STEPS) == 2
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"a", "b", "schema_versions"} <= names
    with pytest.raises(StoreError, match="newer than"):
        migrate(conn, "demo", STEPS[:1])


def test_concurrent_first_opens_do_not_collide(tmp_path: Path) -> None:
    path = tmp_path / "race.sqlite3"
    errors: list[Exception] = []

    def open_and_migrate() -> None:
        try:
            migrate(connect(path), "demo", STEPS)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_and_migrate) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
