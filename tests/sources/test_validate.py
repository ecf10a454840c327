"""Validation at the door, piece by piece: the clock's dates, repairs, ranges, units, URLs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputDataError
from engine.state import WarningCode
from sources.csv_import import read_series
from sources.reading import MAX_HEADER_CHARS, read_text
from sources.urls import public_url, redact_urls
from sources.validate import Checks, scale_gex
from tests.sources.corpus import END, healthy_frames, to_csv


def _write(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / name
    path.write_text(to_csv(frame))
    return path


def test_checks_follow_the_close_of_the_session() -> None:
    before = Checks.at(dt.datetime(2026, 10, 30, 19, 59, tzinfo=dt.UTC))  # 15:59 New York
    after = Checks.at(dt.datetime(2026, 10, 30, 20, 0, tzinfo=dt.UTC))
    assert before.latest_session == dt.date(2026, 10, 29) and before.today == END
    assert after.latest_session == END


def test_a_row_of_the_session_still_trading_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "iwm.csv", healthy_frames()["prices"])
    during = Checks.at(dt.datetime(2026, 10, 30, 15, 0, tzinfo=dt.UTC))
    with pytest.raises(InputDataError, match=r"data row 150 \(2026-10-30\): dated after"):
        read_series(path, "prices", during)
    assert (
        len(read_series(path, "prices", Checks.at(dt.datetime(2026, 10, 31, tzinfo=dt.UTC))).frame)
        == 150
    )


def test_small_ohlc_slips_are_repaired_and_named(tmp_path: Path) -> None:
    frame = healthy_frames()["prices"]
    top = max(frame["open"].iloc[10], frame["close"].iloc[10])
    frame.iloc[10, frame.columns.get_loc("high")] = top - 0.02
    path = _write(tmp_path, "iwm.csv", frame)
    result = read_series(path, "prices")
    assert result.frame["high"].iloc[10] == pytest.approx(top)
    (warning,) = [w for w in result.warnings if w.code == WarningCode.REPAIRED]
    assert warning.dates == (frame.index[10].date(),) and "iwm.csv" in warning.text


def test_holiday_rows_are_left_out_and_named(tmp_path: Path) -> None:
    frame = healthy_frames()["prices"]
    extra = frame.iloc[[-1]].copy()
    extra.index = pd.DatetimeIndex([pd.Timestamp("2026-07-03")])  # Independence Day observed
    path = _write(tmp_path, "iwm.csv", pd.concat([frame, extra]).sort_index())
    result = read_series(path, "prices")
    assert pd.Timestamp("2026-07-03") not in result.frame.index
    (warning,) = [w for w in result.warnings if w.code == WarningCode.NOT_A_SESSION]
    assert warning.dates == (dt.date(2026, 7, 3),)


@pytest.mark.parametrize(
    ("factor", "drop_volume", "looks"),
    [(0.08, True, "the VIX"), (20.0, False, "an index level"), (100.0, False, "cents")],
)
def test_another_instrument_is_named(
    tmp_path: Path, factor: float, drop_volume: bool, looks: str
) -> None:
    frame = healthy_frames()["prices"]
    for col in ("open", "high", "low", "close", "adj_close"):
        frame[col] = frame[col] * factor
    if drop_volume:
        frame = frame.drop(columns="volume")
    path = _write(tmp_path, "other.csv", frame)
    with pytest.raises(InputDataError, match=f"IWM's plausible range 25 to 450 USD.*{looks}"):
        read_series(path, "prices")
    assert len(read_series(path, "prices", Checks(price_range=(0.01, 100_000))).frame) == 150


def test_gex_units() -> None:
    usd = pd.Series([2.1e9, -1.3e9, 4.0e8])
    assert scale_gex(usd, "g.csv", None)[1] is None
    millions = usd / 1e6
    values, warning = scale_gex(millions, "g.csv", None)
    assert (
        warning is not None and "millions" in warning.text and "--gex-unit millions" in warning.text
    )
    np.testing.assert_allclose(values, millions)
    scaled, none = scale_gex(millions, "g.csv", "millions")
    assert none is None
    np.testing.assert_allclose(scaled, usd)
    assert "billions" in (scale_gex(usd / 1e9, "g.csv", None)[1] or "").__str__()


def test_reading_refuses_cheaply(tmp_path: Path) -> None:
    header = tmp_path / "wide.csv"
    header.write_bytes(b"date," + b"c," * MAX_HEADER_CHARS + b"\n2024-01-02,1\n")
    with pytest.raises(InputDataError, match="header line is"):
        read_text(header)
    bare16 = tmp_path / "u16.csv"
    bare16.write_bytes("date,close\n2024-01-02,200\n".encode("utf-16-le"))
    with pytest.raises(InputDataError, match="UTF-16"):
        read_text(bare16)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("date,close\n2024-01-02,200\n# caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputDataError, match=r"not UTF-8 text \(byte 0xe9 on line 3\)"):
        read_text(latin)
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(InputDataError, match="is a folder"):
        read_text(folder)


def test_urls_lose_their_secrets() -> None:
    url = "https://me:pw@api.example.com:8443/v1/IWM.json?apikey=s3cret&x=1#frag"
    assert public_url(url) == "https://api.example.com:8443/v1/IWM.json"
    assert public_url("import:DIX.csv") == "import:DIX.csv"
    assert public_url("http://[::1]:8080/a?b=c") == "http://[::1]:8080/a"
    text = f"chain:{url} failed; fallback http://h/x?token=abc"
    assert (
        redact_urls(text)
        == "chain:https://api.example.com:8443/v1/IWM.json failed; fallback http://h/x"
    )


def test_provider_rows_are_screened_not_refused() -> None:
    from sources.validate import screen_rows

    frame = healthy_frames()["prices"].iloc[-6:].copy()
    day = frame.index
    frame.iloc[1, frame.columns.get_loc("high")] = frame["low"].iloc[1] - 1  # impossible
    frame.iloc[2, frame.columns.get_loc("close")] = np.nan
    frame.iloc[3, frame.columns.get_loc("volume")] = -5
    top = max(frame["open"].iloc[4], frame["close"].iloc[4])
    frame.iloc[4, frame.columns.get_loc("high")] = top - 0.01  # a rounding slip
    kept, note = screen_rows(frame, "prices", limit=day[-2].date())
    assert list(kept.index) == [day[0], day[4]]
    assert kept["high"].iloc[1] == pytest.approx(top)
    assert note is not None and note.startswith("left out 4 row(s)")
    for why in (
        "high below low",
        "close not a price",
        "negative volume",
        f"after {day[-2].date()}",
    ):
        assert why in note
    clean, none = screen_rows(healthy_frames()["prices"], "prices", limit=END)
    assert none is None and len(clean) == 150
