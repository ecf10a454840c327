"""IWM's own gamma and the S&P 500's stand-in kept apart, from the store to the report.

A chain file saved as IWM's snapshot and SqueezeMetrics' DIX.csv imported in either
order: both are kept (different underlying and method), the day's value comes from the
most direct series, a change of series is never a flip, and the report names both.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main
from bot.service import AnalystService, DataRequest
from bot.settings import load_settings
from engine.build import state_at
from engine.dataset import GexSeries, assemble
from engine.prepared import prepare
from engine.state import WarningCode
from sources.store import MIGRATIONS, Store
from tests.sources.corpus import END, healthy, healthy_frames, to_csv

LAST = pd.Timestamp(END)


def _chain(path: Path, day: dt.date, *, puts: float = 50_000.0) -> Path:
    """An IWM chain (repackaged layout) taken after the close of ``day``; put-heavy, so its
    net GEX is negative."""
    spot = 220.0
    expiry = (day + dt.timedelta(days=21)).isoformat()
    quotes = [
        {"expiration": expiry, "side": side, "strike": k, "openInterest": oi, "iv": 0.22}
        for k in (200.0, 210.0, 220.0, 230.0, 240.0)
        for side, oi in (("call", 1_000.0), ("put", puts))
    ]
    payload = {
        "symbol": "IWM",
        "updated": f"{day.isoformat()}T16:30:00-04:00",
        "underlyingPrice": spot,
        "quotes": quotes,
    }
    path.write_text(json.dumps(payload))
    return path


def _dix(path: Path, last_value: float, through: pd.Timestamp) -> Path:
    """A DIX.csv-shaped file (date,price,dix,gex), S&P 500 levels, positive gamma."""
    prices = healthy_frames()["prices"]
    frame = pd.DataFrame(
        {"price": (prices["close"] * 25).round(2), "dix": 0.44, "gex": 3.0e9}, index=prices.index
    )
    frame = frame.loc[:through]
    frame.iloc[-1, frame.columns.get_loc("gex")] = last_value
    path.write_text(to_csv(frame))
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    files = healthy(tmp_path / "good")
    monkeypatch.setenv("IWM_DB_PATH", str(tmp_path / "db.sqlite3"))
    assert main(["import", "--kind", "prices", str(files["prices"])]) == 0
    return {"db": tmp_path / "db.sqlite3", "dir": tmp_path}


def _service(db: Path) -> AnalystService:
    after_close = dt.datetime.combine(END, dt.time(22), tzinfo=dt.UTC)
    return AnalystService(load_settings(IWM_DB_PATH=str(db)), clock=lambda: after_close)


@pytest.mark.parametrize("chain_first", [True, False], ids=["chain-then-dix", "dix-then-chain"])
def test_chain_and_dix_are_two_series_and_never_a_flip(
    env: dict[str, Path], chain_first: bool
) -> None:
    chain = _chain(env["dir"] / "IWM_chain.json", END)
    dix = _dix(env["dir"] / "DIX.csv", 2.5e9, LAST)  # SPX gamma positive through the last day
    steps = [["gex", "--chain", str(chain), "--save"], ["import", str(dix)]]
    for argv in steps if chain_first else steps[::-1]:
        assert main(argv) == 0
    with sqlite3.connect(env["db"]) as conn:
        rows = conn.execute(
            "SELECT underlying, method, COUNT(*) FROM gex_snapshots GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
    assert rows == [("IWM", "chain", 1), ("SPX", "history", 150)]
    state = _service(env["db"]).state(DataRequest())
    gex = state.regime.gex
    assert gex.value is not None and gex.value < 0  # IWM's own, from the chain
    assert gex.series == "IWM chain snapshot"
    assert gex.previous is None and gex.series_changed
    assert not gex.flipped_negative and not gex.flipped_positive
    assert not state.rule("GEX_Turned_Positive").fired  # type: ignore[union-attr]
    codes = {w.code for w in state.warnings}
    assert WarningCode.SERIES_CHANGE in codes and WarningCode.STAND_IN not in codes
    report = _service(env["db"]).forecast(DataRequest(), offline=True).text
    assert "flipped" not in report
    assert "IWM chain snapshot" in report and "not read as a flip" in report
    assert "import:IWM_chain.json" in report and "import:DIX.csv" in report
    assert "SPX stand-in" in report


def test_a_day_later_the_stand_in_is_named(env: dict[str, Path]) -> None:
    """Replaying the day before the chain: the value is the SPX stand-in, said so."""
    main(["import", str(_dix(env["dir"] / "DIX.csv", 2.5e9, LAST))])
    main(["gex", "--chain", str(_chain(env["dir"] / "c.json", END)), "--save"])
    prev = healthy_frames()["prices"].index[-2].date()
    state = _service(env["db"]).state(DataRequest(), prev)
    assert state.regime.gex.series == "SPX stand-in"
    assert any(w.code == WarningCode.STAND_IN for w in state.warnings)
    assert not any(w.code == WarningCode.SERIES_CHANGE for w in state.warnings)


def _frame(n: int = 80) -> pd.DataFrame:
    prices = healthy_frames()["prices"].iloc[:n]
    return prices[["open", "high", "low", "close", "adj_close", "volume"]]


def test_crossing_within_one_series_still_fires() -> None:
    """The series id only breaks comparisons across a change: a real turn still fires."""
    prices = _frame()
    gex = pd.Series(-1e9, index=prices.index)
    gex.iloc[70:] = 1e9
    ids = pd.Series(0.0, index=prices.index)
    ids.iloc[70:] = 1.0  # the turn coincides with a change of series
    spx = GexSeries("SPX", "history", "DIX.csv", stand_in=True)
    iwm = GexSeries("IWM", "chain", "store")
    changed = prepare(assemble(prices, {"gex": gex}, {}, gex_series=(spx, iwm), gex_ids=ids))
    same = prepare(assemble(prices, {"gex": gex}, {}, gex_series=(spx,)))
    day = prices.index[70].date()
    assert not changed.fires["GEX_Turned_Positive"].any()
    assert same.fires["GEX_Turned_Positive"].to_numpy().nonzero()[0].tolist() == [70]
    s_changed, s_same = state_at(changed, day), state_at(same, day)
    assert not s_changed.regime.gex.flipped_positive and s_changed.regime.gex.series_changed
    assert s_same.regime.gex.flipped_positive and not s_same.regime.gex.series_changed
    check = s_changed.rule("GEX_Turned_Positive").conditions[0]  # type: ignore[union-attr]
    assert check.passed is None  # the day before belongs to another series: unknown
    assert np.isnan(changed.ind["gex_prev"].iloc[70])


def test_version_one_store_migrates_its_gex_rows(tmp_path: Path) -> None:
    """A store written before series were kept apart: DIX rows become the SPX history,
    chain rows IWM's snapshots; strikes are kept; sources lose their query strings."""
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER)")
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO schema_versions VALUES ('store', 1)")
    stamp = "2026-10-30T21:00:00+00:00"
    conn.execute(
        "INSERT INTO gex_snapshots (ticker, date, net_gex, source, fetched_at) VALUES "
        "('IWM', '2026-10-29', 3e9, 'import:DIX.csv', ?)",
        (stamp,),
    )
    conn.execute(
        "INSERT INTO gex_snapshots (ticker, date, net_gex, flip_level, source, fetched_at) "
        "VALUES ('IWM', '2026-10-30', -2.12e9, 221.5, "
        "'chain:https://user:pw@example.test/IWM.json?apikey=s3cret', ?)",
        (stamp,),
    )
    conn.execute("INSERT INTO gex_strikes VALUES ('IWM', '2026-10-30', 220.0, 1.0, -3.0, -2.0)")
    conn.commit()
    conn.close()
    with Store(db) as store:
        gex = store.read("gex")
        assert list(zip(gex["underlying"], gex["method"], strict=True)) == [
            ("SPX", "history"),
            ("IWM", "chain"),
        ]
        assert list(gex["source"]) == ["import:DIX.csv", "chain:https://example.test/IWM.json"]
        assert store.read_strikes(dt.date(2026, 10, 30))["net_gex"].tolist() == [-2.0]
