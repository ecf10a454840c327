"""The broken-file corpus through every entry point: refused the same way everywhere.

Each file of :data:`tests.sources.corpus.BROKEN` goes through ``forecast --csv`` (or
``--vix/--gex/--dark-pool`` beside healthy prices), ``import`` and ``import --kind``:
exit status 2, one line on stderr naming the file and the problem, no traceback, the
file unchanged and the store unchanged (compared as an SQL dump). The usable odd files
of :data:`~tests.sources.corpus.ODD` must say what is odd about them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from engine.series import Series
from tests.sources.corpus import BROKEN, ODD, Case, healthy

FLAG: dict[Series, str] = {"vix": "--vix", "gex": "--gex", "dark_pool": "--dark-pool"}
#: Files that are wrong as prices but right as what they are: import without --kind
#: recognises them and stores them as that series.
OWN_KIND: dict[str, Series] = {"VIX_History.csv": "vix", "DIX.csv": "gex"}


def _dump(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Healthy files and a store seeded from them (copied per test)."""
    root = tmp_path_factory.mktemp("corpus")
    paths = healthy(root / "good")
    db = root / "seed.sqlite3"
    mp = pytest.MonkeyPatch()
    mp.setenv("IWM_DB_PATH", str(db))
    try:
        for kind, path in paths.items():
            assert main(["import", "--kind", kind, str(path)]) == 0
    finally:
        mp.undo()
    return {**{k: v for k, v in paths.items()}, "db": db}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
def test_broken_file_is_refused_everywhere(
    case: Case,
    world: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / case.name
    path.write_bytes(case.make())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    db = tmp_path / "store.sqlite3"
    db.write_bytes(world["db"].read_bytes())
    monkeypatch.setenv("IWM_DB_PATH", str(db))
    before = _dump(db)
    if case.kind == "prices":
        forecast = ["forecast", "--offline", "--csv", str(path)]
    else:
        forecast = [
            "forecast",
            "--offline",
            "--csv",
            str(world["prices"]),
            FLAG[case.kind],
            str(path),
        ]
    runs = {
        "forecast": forecast,
        "import": ["import", str(path)],
        "import --kind": ["import", "--kind", case.kind, str(path)],
    }
    caplog.set_level(logging.ERROR)
    for label, argv in runs.items():
        code, out, err = _run(argv, capsys)
        if label == "import" and case.name in OWN_KIND:
            assert code == 0, err  # stored as what it is, not as prices
            assert f"{case.name}: {OWN_KIND[case.name]}" in out
            db.write_bytes(world["db"].read_bytes())
            continue
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2, (label, err)
        assert len(lines) == 1, (label, err)
        assert case.name in lines[0], (label, lines[0])
        assert re.search(case.problem, lines[0], re.IGNORECASE), (label, lines[0])
        assert "Traceback" not in err
        assert _dump(db) == before, label
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_corpus_is_large_and_small() -> None:
    """At least 60 broken files, each a few kilobytes except the two pathological ones."""
    assert len(BROKEN) >= 60
    assert len({c.name for c in (*BROKEN, *ODD)}) == len(BROKEN) + len(ODD)
    big = [c.name for c in BROKEN if len(c.make()) > 100_000]
    assert sorted(big) == ["long_header.csv", "long_line.csv"]


@pytest.mark.parametrize("case", ODD, ids=lambda c: c.name)
def test_odd_file_is_used_and_said(
    case: Case,
    world: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / case.name
    path.write_bytes(case.make())
    monkeypatch.setenv("IWM_DB_PATH", str(tmp_path / "fresh.sqlite3"))
    if case.kind == "prices":
        forecast = ["forecast", "--offline", "--csv", str(path)]
    else:
        forecast = [
            "forecast",
            "--offline",
            "--csv",
            str(world["prices"]),
            FLAG[case.kind],
            str(path),
        ]
    code, out, err = _run(forecast, capsys)
    assert code == 0, err
    assert re.search(case.problem, out, re.IGNORECASE), out[-2000:]
    code, out, err = _run(["import", "--kind", case.kind, str(path)], capsys)
    assert code == 0, err
    assert re.search(case.problem, out, re.IGNORECASE), out
