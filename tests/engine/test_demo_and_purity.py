"""The synthetic demo data set, and the engine's purity rules."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pandas as pd

from engine.build import prepare
from engine.demo import demo_dataset

ENGINE = Path(__file__).resolve().parents[2] / "engine"
ALLOWED_THIRD_PARTY = {"numpy", "pandas", "pydantic", "scipy"}
FORBIDDEN = {"bot", "discord", "openai", "httpx", "requests", "sqlite3", "urllib", "socket"}


def test_demo_is_deterministic_long_and_complete() -> None:
    a, b = demo_dataset(), demo_dataset()
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not demo_dataset(seed=7).frame.equals(a.frame)
    span = a.frame.index[-1] - a.frame.index[0]
    assert span.days >= 3 * 365
    assert a.frame.notna().all().all()
    assert all(p.synthetic and p.source == "demo (synthetic)" for p in a.provenance)


def test_every_bundled_rule_fires_in_the_demo() -> None:
    fires = prepare(demo_dataset()).fires
    assert (fires.sum() > 0).all(), fires.sum().to_dict()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_pure_engine_imports_only_allowed_modules() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in ENGINE.glob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert not name.startswith("sources"), f"{path.name} imports {name}"
            assert top in ALLOWED_THIRD_PARTY | {"engine"} | (stdlib - FORBIDDEN), (
                f"{path.name} imports {name}"
            )


def test_engine_never_imports_bot_or_network_clients() -> None:
    for path in ENGINE.rglob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] not in {"bot", "discord", "openai"}, f"{path} imports {name}"


def test_pure_engine_reads_no_clock() -> None:
    for path in ENGINE.glob("*.py"):
        text = path.read_text()
        for call in ("datetime.now", "dt.datetime.now", "date.today", "time.time(", "utcnow"):
            assert call not in text, f"{path.name} reads the clock via {call}"


def test_demo_has_regime_changes_and_ends_on_the_asked_day() -> None:
    data = demo_dataset(years=4)
    f = data.frame
    assert f.index[-1] == pd.Timestamp("2025-12-31") and (f.index.day_of_week < 5).all()
    assert f["vix"].max() > 30 and f["vix"].min() < 15  # a spike and calm stretches
    assert (f["gex"] < 0).any() and (f["gex"] > 0).any()
    assert (f["dp_ratio"] > 1.5).any() and f["dp_ratio"].median() < 1.5
    assert (f["adj_close"] < f["close"]).iloc[0] and f["adj_close"].iloc[-1] == f["close"].iloc[-1]
    assert (f["high"] >= f[["open", "close"]].max(axis=1)).all()
    assert (f["low"] <= f[["open", "close"]].min(axis=1)).all()
    drawdown = f["close"] / f["close"].cummax() - 1
    assert drawdown.min() < -0.10  # at least one real sell-off
    assert len(demo_dataset(years=10).frame) > 2500
