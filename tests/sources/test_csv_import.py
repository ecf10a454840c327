"""The CSV importer on the real files and on a corpus of broken ones."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputDataError, InsufficientHistoryError
from sources.calendar import sessions_mask, trading_days
from sources.csv_import import load_dataset, read_series_csv


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_both_iwm_files_and_both_vix_files(raw_data_dir: Path) -> None:
    kitty = raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv"
    guy = raw_data_dir / "guydekowski_market-lab" / "IWM.csv"
    cboe = raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv"
    yahoo_vix = raw_data_dir / "guydekowski_market-lab" / "VIX.csv"
    before = [_digest(p) for p in (kitty, guy, cboe, yahoo_vix)]
    a = load_dataset(kitty, cboe)
    b = load_dataset(guy, yahoo_vix)
    assert len(a.frame) == len(b.frame) == 6598
    assert a.frame.loc["2026-08-21", "close"] == pytest.approx(299.96, abs=0.01)
    # CBOE prints VIX on exchange holidays; the left join drops those rows.
    assert pd.Timestamp("2024-07-04") not in a.frame.index
    window = slice("2023-01-01", "2025-12-31")
    np.testing.assert_allclose(a.frame.loc[window, "vix"], b.frame.loc[window, "vix"], atol=1e-5)
    assert [_digest(p) for p in (kitty, guy, cboe, yahoo_vix)] == before


def test_adjusted_close_and_dix_as_gex(raw_data_dir: Path) -> None:
    x = load_dataset(raw_data_dir / "xjcarter_data" / "IWM.csv")
    assert x.frame["adj_close"].iloc[0] == pytest.approx(34.40634)
    assert (x.frame["adj_close"] <= x.frame["close"]).all()
    d = load_dataset(
        raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv",
        gex=raw_data_dir / "squeezemetrics_dix" / "DIX.csv",
    )
    gex = next(p for p in d.provenance if p.series == "gex")
    assert gex.note is not None and "stand-in" in gex.note
    assert gex.first_date is not None and gex.first_date.isoformat() == "2011-05-02"


def test_finra_file_gives_the_tickers_day(raw_data_dir: Path) -> None:
    """20200102|IWM|2085904|10053|3700403|B,Q,N -> ratio 2085904 / (3700403 - 2085904)."""
    path = raw_data_dir / "pookiemaker_shorts" / "CNMSshvol20200102.txt"
    frame = read_series_csv(path, "dark_pool")
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2020-01-02"]
    assert frame["dark_pool"].iloc[0] == pytest.approx(2085904 / (3700403 - 2085904))
    with pytest.raises(InputDataError, match="FINRA short-volume file; give it as --dark-pool"):
        read_series_csv(path, "prices")


def _prices(n: int = 80) -> pd.DataFrame:
    idx = pd.DatetimeIndex(
        [pd.Timestamp(d) for d in trading_days(dt.date(2024, 1, 2), dt.date(2024, 12, 31))[:n]]
    )
    close = 100 + np.arange(n) * 0.1
    return pd.DataFrame({"Date": idx.strftime("%Y-%m-%d"), "Close": close, "Volume": 1000})


@pytest.mark.parametrize(
    ("content", "error", "needle"),
    [
        ("", InputDataError, "is empty"),
        ("Date,Close\n", InputDataError, "no data rows"),
        (
            "Date,Px\n2024-01-02,1\n",
            InputDataError,
            "columns seen: Date, Px; accepted names: close",
        ),
        ("When,Close\n2024-01-02,1\n", InputDataError, "column 'date' not found"),
        (
            "Date,Close\n2024-01-02,1\n2024-01-02,2\n",
            InputDataError,
            "duplicate date 2024-01-02 on data row 2",
        ),
        (
            "Date,Close\n2024-01-02,1\n2024-01-03,abc\n",
            InputDataError,
            "non-numeric value 'abc' on data row 2",
        ),
        ("Date,Close\n2024-01-02,1\n2024-01-03,0\n", InputDataError, "close 0.00 is not a price"),
        (
            "Date,Close\n2024-01-02,1\nyesterday,2\n2024-01-04,3\n",
            InputDataError,
            "'yesterday' on data row 2",
        ),
        (
            "Date,Close\n2024-01-02,1\n2024-01-03,-4.5\n",
            InputDataError,
            "data row 2 (2024-01-03): close -4.50 is not a price",
        ),
        ('{"date": "2024-01-02", "close": 1}\n', InputDataError, "looks like JSON, not CSV"),
        ("Date;Close\n2024-01-02;1,5\n", InputDataError, "separates columns with ';'"),
    ],
)
def test_broken_files(tmp_path: Path, content: str, error: type[Exception], needle: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(error) as exc:
        load_dataset(path)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_binary_and_missing_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputDataError, match=r"junk\.csv is binary"):
        load_dataset(junk)
    with pytest.raises(InputDataError, match="file not found"):
        load_dataset(tmp_path / "none.csv")


def test_too_little_history_says_how_many(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    _prices(30).to_csv(path, index=False)
    with pytest.raises(InsufficientHistoryError, match="at least 60 trading days"):
        load_dataset(path)


def test_aliases_order_case_and_us_dates(tmp_path: Path) -> None:
    frame = _prices()
    frame = frame.rename(columns={"Close": "CLOSE", "Date": "timestamp"})
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.strftime("%m/%d/%Y")
    frame["ShortVolume"] = 600.0
    frame["TotalVolume"] = 1000.0
    frame["VIX_Close"] = 17.5
    path = tmp_path / "mixed.csv"
    frame[["VIX_Close", "ShortVolume", "CLOSE", "timestamp", "TotalVolume", "Volume"]].to_csv(
        path, index=False
    )
    data = load_dataset(path, dark_pool=path)
    assert data.frame["vix"].iloc[-1] == 17.5
    assert data.frame["dark_pool"].iloc[-1] == pytest.approx(1.5)  # 600 / (1000 - 600)
    assert (data.frame["adj_close"] == data.frame["close"]).all()


def test_gaps_filled_at_most_three_days(tmp_path: Path) -> None:
    prices = tmp_path / "p.csv"
    _prices().to_csv(prices, index=False)
    vix = _prices()[["Date"]].assign(VIX=20.0).drop(index=[70, 71, 72, 73, 74])
    vix_path = tmp_path / "v.csv"
    vix.to_csv(vix_path, index=False)
    data = load_dataset(prices, vix_path)
    assert data.frame["vix"].iloc[70:73].eq(20.0).all()
    assert data.frame["vix"].iloc[73:75].isna().all()
    assert tuple(w.text for w in data.warnings if w.code == "gap") == (
        "vix: no value on 2024-04-12 to 2024-04-18 (5 trading days); the first 3 carried "
        "forward from 2024-04-11, the rest left empty (forward fill is limited to 3 days)",
    )


def test_each_gap_is_named_with_its_dates(tmp_path: Path) -> None:
    prices = tmp_path / "p.csv"
    _prices().to_csv(prices, index=False)
    gex = _prices()[["Date"]].assign(net_gex=1e9).drop(index=[10, 40, 41])
    gex_path = tmp_path / "g.csv"
    gex.to_csv(gex_path, index=False)
    data = load_dataset(prices, gex=gex_path)
    gaps = [w for w in data.warnings if w.code == "gap"]
    assert tuple(w.text for w in gaps) == (
        "gex: no value on 2024-01-17; carried forward from 2024-01-16",
        "gex: no value on 2024-02-29, 2024-03-01; carried forward from 2024-02-28",
    )
    # typed: what, which series, and the gap's first and last day
    second = gaps[1]
    assert (second.code, second.series) == ("gap", "gex")
    assert [d.isoformat() for d in second.dates] == ["2024-02-29", "2024-03-01"]
    assert data.frame["gex"].notna().all()


def test_single_file_with_every_series(tmp_path: Path) -> None:
    from engine.demo import demo_dataset

    frame = demo_dataset().frame
    frame = frame[sessions_mask(pd.DatetimeIndex(frame.index))]  # the demo runs on weekdays
    path = tmp_path / "all.csv"
    frame.to_csv(path)
    loaded = load_dataset(path).frame.drop(columns="gex_series")
    pd.testing.assert_frame_equal(loaded, frame, check_freq=False, rtol=1e-12)


@pytest.mark.parametrize(
    ("kind", "content", "needle"),
    [
        ("vix", "Date,Level\n2024-01-02,13\n", "accepted names: vix, vix_close"),
        ("gex", "Date,Gamma\n2024-01-02,1e9\n", "accepted names: gex, net_gex, total_gex"),
        ("dark_pool", "Date,Ratio\n2024-01-02,1.2\n", "(or ShortVolume and TotalVolume)"),
        ("vix", "Date,VIX\n2024-01-02,0\n", "VIX 0.00 is not a VIX level"),
    ],
)
def test_broken_auxiliary_files(tmp_path: Path, kind: str, content: str, needle: str) -> None:
    prices = tmp_path / "p.csv"
    _prices().to_csv(prices, index=False)
    aux = tmp_path / f"{kind}.csv"
    aux.write_text(content)
    arg = {"vix": "vix", "gex": "gex", "dark_pool": "dark_pool"}[kind]
    with pytest.raises(InputDataError) as exc:
        load_dataset(prices, **{arg: aux})
    assert needle in str(exc.value) and f"{kind}.csv" in str(exc.value)
