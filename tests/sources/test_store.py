"""The SQLite store: schema, idempotent upserts, atomic batches, GEX snapshots."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.gex import compute_gex
from sources.store import Store


def _bars(days: list[str], base: float = 100.0) -> pd.DataFrame:
    idx = pd.DatetimeIndex(pd.to_datetime(days), name="date")
    close = base + np.arange(len(days), dtype=float)
    return pd.DataFrame(
        {
            "open": close - 1,
            "high": close + 1,
            "low": close - 2,
            "close": close,
            "adj_close": close * 0.99,
            "volume": 1e6,
        },
        index=idx,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "db.sqlite3")
    yield s
    s.close()


def test_upsert_twice_changes_nothing(store: Store) -> None:
    bars = _bars(["2026-01-05", "2026-01-06", "2026-01-07"])
    assert store.upsert("prices", bars, source="yahoo", fetched_at="t1") == 3
    assert store.upsert("prices", bars, source="yahoo", fetched_at="t2") == 0
    assert store.info("prices").fetched_at == "t1"  # untouched rows keep their provenance
    changed = bars.copy()
    changed.loc["2026-01-07", "adj_close"] = 1.0
    assert store.upsert("prices", changed, source="yahoo", fetched_at="t3") == 1
    back = store.read("prices")
    assert back.loc["2026-01-07", "adj_close"] == 1.0
    assert back.loc["2026-01-07", "fetched_at"] == "t3"
    assert back.loc["2026-01-06", "fetched_at"] == "t1"


def test_failed_batch_leaves_store_as_it_was(store: Store) -> None:
    store.upsert("vix", _bars(["2026-01-05"])[["open", "high", "low", "close"]], source="cboe")
    with pytest.raises(RuntimeError), store.batch():
        store.upsert("vix", _bars(["2026-01-06"])[["open", "high", "low", "close"]], source="x")
        store.upsert("prices", _bars(["2026-01-06"]), source="x")
        raise RuntimeError("connection dropped half-way")
    assert store.info("vix").rows == 1
    assert store.info("prices").rows == 0


def test_info_and_last_date_per_series(store: Store, tmp_path: Path) -> None:
    assert store.is_empty()
    assert store.last_date("dark_pool") is None
    dp = pd.DataFrame(
        {
            "short_volume": [2.0],
            "short_exempt_volume": [0.0],
            "total_volume": [5.0],
            "ratio": [2 / 3],
        },
        index=pd.DatetimeIndex(["2026-01-05"], name="date"),
    )
    store.upsert("dark_pool", dp, source="finra")
    info = store.info("dark_pool")
    assert (info.rows, info.last_date, info.source) == (1, dt.date(2026, 1, 5), "finra")
    # reopening migrates nothing and keeps the rows
    again = Store(tmp_path / "db.sqlite3")
    assert again.info("dark_pool").rows == 1
    again.close()


def test_gex_snapshot_with_strikes_is_idempotent(store: Store) -> None:
    chain = pd.DataFrame(
        {
            "expiration": ["2026-01-23"] * 3,
            "side": ["call", "put", "call"],
            "strike": [100.0, 95.0, 105.0],
            "open_interest": [10.0, 20.0, 5.0],
            "iv": [0.2, 0.25, 0.2],
            "gamma": [0.05, 0.04, 0.03],
        }
    )
    res = compute_gex(chain, 100.0, dt.datetime(2026, 1, 16, 16, 0))
    day = dt.date(2026, 1, 16)
    assert store.save_gex_snapshot(day, res, source="test") == 4
    assert store.save_gex_snapshot(day, res, source="test") == 0
    snap = store.read("gex").iloc[0]
    assert snap["net_gex"] == pytest.approx(res.net_gex)
    assert snap["call_wall"] == 100.0 and snap["put_wall"] == 95.0
    strikes = store.read_strikes(day)
    assert list(strikes.index) == [95.0, 100.0, 105.0]
    assert strikes["net_gex"].sum() == pytest.approx(res.net_gex)


def test_imported_gex_history_has_only_net_gex(store: Store) -> None:
    hist = pd.DataFrame(
        {"net_gex": [-1e9, 2e9]}, index=pd.DatetimeIndex(["2026-01-05", "2026-01-06"], name="date")
    )
    assert store.upsert("gex", hist, source="import:gex.csv") == 2
    back = store.read("gex")
    assert back["net_gex"].tolist() == [-1e9, 2e9]
    assert back["flip_level"].isna().all()
