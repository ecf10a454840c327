"""A corpus of broken and odd input files, generated (nothing large is kept on disk).

:func:`healthy` writes a clean 150-session IWM-like data set (prices, VIX, GEX, dark
pool). :data:`BROKEN` lists files every entry point must refuse: ``forecast --csv``,
``import`` and ``import --kind`` exit 2 with one line naming the file and the problem,
and neither the file nor the store changes. :data:`ODD` lists files that are usable
but must not pass silently (each names the warning or note it must produce).

Each case is built from the healthy data by a small edit, so the corpus stays a few
kilobytes per file; the pathological ones (a 4 MB header) are generated on demand.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.series import Series
from sources.calendar import trading_days

#: The healthy data's last session: in the past for any run of the tests.
END = dt.date(2026, 10, 30)
SESSIONS = 150


def _days() -> list[dt.date]:
    return trading_days(END - dt.timedelta(days=400), END)[-SESSIONS:]


def healthy_frames() -> dict[Series, pd.DataFrame]:
    """Clean frames of each kind on the same NYSE sessions (seeded, IWM-like levels)."""
    rng = np.random.default_rng(42)
    days = pd.DatetimeIndex([pd.Timestamp(d) for d in _days()], name="date")
    n = len(days)
    close = 220.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, n)))
    open_ = close * (1 + rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.005, n)))
    prices = pd.DataFrame(
        {
            "open": open_.round(2),
            "high": high.round(2) + 0.01,
            "low": low.round(2) - 0.01,
            "close": close.round(2),
            "adj_close": (close * 0.98).round(4),
            "volume": rng.integers(15_000_000, 40_000_000, n),
        },
        index=days,
    )
    vix = 15 + 5 * np.abs(np.sin(np.arange(n) / 9)) + rng.normal(0, 0.5, n)
    vix_frame = pd.DataFrame(
        {"OPEN": vix, "HIGH": vix + 1, "LOW": vix - 1, "CLOSE": vix}, index=days
    ).round(2)
    gex = pd.DataFrame({"gex": (rng.normal(0.3, 1.0, n) * 1e9).round(0)}, index=days)
    short = rng.integers(5_000_000, 9_000_000, n)
    total = short + rng.integers(4_000_000, 8_000_000, n)
    dark = pd.DataFrame({"short_volume": short, "total_volume": total}, index=days)
    return {"prices": prices, "vix": vix_frame, "gex": gex, "dark_pool": dark}


def to_csv(frame: pd.DataFrame, *, date_label: str = "date", fmt: str = "%Y-%m-%d") -> str:
    out = frame.copy()
    out.index = pd.DatetimeIndex(out.index).strftime(fmt)
    out.index.name = date_label
    return out.to_csv(lineterminator="\n")


def healthy_texts() -> dict[Series, str]:
    f = healthy_frames()
    return {
        "prices": to_csv(f["prices"]),
        "vix": to_csv(f["vix"], date_label="DATE", fmt="%m/%d/%Y"),
        "gex": to_csv(f["gex"]),
        "dark_pool": to_csv(f["dark_pool"]),
    }


def healthy(folder: Path) -> dict[Series, Path]:
    """Write the healthy files into ``folder``; returns their paths by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {"prices": "iwm.csv", "vix": "vix.csv", "gex": "gex.csv", "dark_pool": "dp.csv"}
    paths: dict[Series, Path] = {}
    for kind, text in healthy_texts().items():
        paths[kind] = folder / names[kind]
        paths[kind].write_text(text)
    return paths


@dataclass(frozen=True)
class Case:
    """One file: its kind, how to make it, and a regex its refusal (or warning) matches."""

    name: str
    kind: Series
    make: Callable[[], bytes]
    problem: str


def _edit(kind: Series, line: int, column: str, value: str) -> Callable[[], bytes]:
    """The healthy file of ``kind`` with one cell changed (``line`` counts data rows from 1;
    negative counts from the end)."""

    def make() -> bytes:
        lines = healthy_texts()[kind].splitlines()
        header = lines[0].split(",")
        rows = lines[1:]
        i = line - 1 if line > 0 else len(rows) + line
        cells = rows[i].split(",")
        cells[header.index(column)] = value
        rows[i] = ",".join(cells)
        return ("\n".join([lines[0], *rows]) + "\n").encode()

    return make


def _frame_edit(kind: Series, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[], bytes]:
    def make() -> bytes:
        frame = fn(healthy_frames()[kind].copy())
        if kind == "vix":
            return to_csv(frame, date_label="DATE", fmt="%m/%d/%Y").encode()
        return to_csv(frame).encode()

    return make


def _text(text: str) -> Callable[[], bytes]:
    return lambda: text.encode()


def _raw(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _shift_dates(frame: pd.DataFrame, years: int) -> pd.DataFrame:
    frame.index = pd.DatetimeIndex(frame.index) + pd.DateOffset(years=years)
    return frame


def _future_row(frame: pd.DataFrame) -> pd.DataFrame:
    extra = frame.iloc[[-1]].copy()
    extra.index = pd.DatetimeIndex([pd.Timestamp("2031-02-14")])
    return pd.concat([frame, extra])


def _scale(cols: tuple[str, ...], factor: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def fn(frame: pd.DataFrame) -> pd.DataFrame:
        for c in cols:
            frame[c] = frame[c] * factor
        return frame

    return fn


def _round_high(frame: pd.DataFrame) -> pd.DataFrame:
    """Row 60's high one cent below its close: a rounding slip, repairable."""
    top = max(frame["open"].iloc[59], frame["close"].iloc[59])
    frame.iloc[59, frame.columns.get_loc("high")] = round(top - 0.01, 2)
    return frame


def _vix_as_prices() -> bytes:
    return to_csv(healthy_frames()["vix"], date_label="DATE", fmt="%m/%d/%Y").encode()


def _dix_like() -> bytes:
    f = healthy_frames()
    frame = pd.DataFrame(
        {
            "price": (f["prices"]["close"] * 20).round(2),
            "dix": 0.45,
            "gex": f["gex"]["gex"],
        },
        index=f["prices"].index,
    )
    return to_csv(frame).encode()


def _index_levels(level: float) -> Callable[[], bytes]:
    return _frame_edit("prices", _scale(("open", "high", "low", "close", "adj_close"), level))


def _long_header() -> bytes:
    """A 4 MB single header line of ~450,000 columns (pandas took minutes on it)."""
    cols = ",".join(f"c{i}" for i in range(600_000)).encode()[: 4 * 1024 * 1024]
    return b"date,close," + cols + b"\n2024-01-02,1\n"


def _long_line() -> bytes:
    text = healthy_texts()["prices"].splitlines()
    text.insert(5, "2024-01-02," + "9" * (2 * 1024 * 1024))
    return ("\n".join(text) + "\n").encode()


def _weekend_shift(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index = pd.DatetimeIndex(frame.index) + pd.Timedelta(days=1)
    return frame


def _spike(frame: pd.DataFrame) -> pd.DataFrame:
    frame.iloc[70, frame.columns.get_loc("close")] *= 10
    frame.iloc[70, frame.columns.get_loc("high")] *= 10
    return frame


def _dupe(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[10]]]).sort_index()


def _ragged() -> bytes:
    lines = healthy_texts()["prices"].splitlines()
    lines[40] += ",1,2"
    return ("\n".join(lines) + "\n").encode()


def _finra(short: int, total: int) -> bytes:
    return (
        "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n"
        f"20261030|IWM|{short}|1000|{total}|B,Q,N\r\n"
        "20261030|SPY|100|0|200|B,Q,N\r\n2\r\n"
    ).encode()


def _too_short() -> bytes:
    frame = healthy_frames()["prices"].iloc[40:48] * 1.07
    return to_csv(frame.round(2)).encode()


P, V, G, D = "prices", "vix", "gex", "dark_pool"

BROKEN: tuple[Case, ...] = (
    # --- dates --------------------------------------------------------------------
    Case("future_row.csv", P, _frame_edit(P, _future_row), r"2031-02-14.*(future|after)"),
    Case("future_all.csv", P, _frame_edit(P, lambda f: _shift_dates(f, 5)), r"future|after"),
    Case("vix_future.csv", V, _frame_edit(V, _future_row), r"2031-02-14"),
    Case("gex_future.csv", G, _frame_edit(G, _future_row), r"2031-02-14"),
    Case("dp_future.csv", D, _frame_edit(D, _future_row), r"2031-02-14"),
    Case("bad_date.csv", P, _edit(P, 30, "date", "2026-13-45"), r"date.*row 30"),
    Case("mixed_dates.csv", P, _edit(P, 12, "date", "06/01/2026"), r"date.*row 12"),
    Case("duplicate_dates.csv", P, _frame_edit(P, _dupe), r"duplicate"),
    Case("ancient_date.csv", P, _edit(P, 1, "date", "1066-10-14"), r"1066-10-14"),
    Case("weekend_shifted.csv", P, _frame_edit(P, _weekend_shift), r"Saturday|shifted"),
    # --- impossible values -----------------------------------------------------------
    Case("close_1e300.csv", P, _edit(P, 50, "close", "1e300"), r"row 50"),
    Case("close_inf.csv", P, _edit(P, 50, "close", "inf"), r"row 50"),
    Case("close_1e400.csv", P, _edit(P, 50, "close", "1e400"), r"row 50"),
    Case("close_neg_inf.csv", P, _edit(P, 50, "close", "-inf"), r"row 50"),
    Case("close_zero.csv", P, _edit(P, 50, "close", "0"), r"row 50"),
    Case("close_negative.csv", P, _edit(P, 50, "close", "-215.3"), r"row 50"),
    Case("open_negative.csv", P, _edit(P, 7, "open", "-1"), r"row 7"),
    Case("adj_close_zero.csv", P, _edit(P, 9, "adj_close", "0"), r"row 9"),
    Case("high_below_low.csv", P, _edit(P, 60, "high", "100.00"), r"high.*low.*row 60"),
    Case("low_above_high.csv", P, _edit(P, 61, "low", "400.00"), r"row 61"),
    Case("open_above_high.csv", P, _edit(P, 62, "open", "390.00"), r"row 62"),
    Case("volume_negative.csv", P, _edit(P, 20, "volume", "-500"), r"volume.*row 20"),
    Case("volume_inf.csv", P, _edit(P, 20, "volume", "inf"), r"volume.*row 20"),
    Case("spike_10x.csv", P, _frame_edit(P, _spike), r"rows 71.*move"),
    Case("close_text.csv", P, _edit(P, 33, "close", "abc"), r"row 33"),
    Case("vix_negative.csv", V, _edit(V, 5, "CLOSE", "-3"), r"row 5"),
    Case("vix_inf.csv", V, _edit(V, 5, "CLOSE", "inf"), r"row 5"),
    Case("vix_1e300.csv", V, _edit(V, 5, "CLOSE", "1e300"), r"row 5"),
    Case("gex_inf.csv", G, _edit(G, 8, "gex", "inf"), r"row 8"),
    Case("gex_1e300.csv", G, _edit(G, 8, "gex", "1e300"), r"row 8"),
    Case("gex_text.csv", G, _edit(G, 8, "gex", "n/a?"), r"row 8"),
    Case("dp_short_gt_total.csv", D, _edit(D, 3, "short_volume", "99000000"), r"row 3"),
    Case("dp_negative.csv", D, _edit(D, 3, "total_volume", "-5"), r"row 3"),
    Case("finra_bad_row.txt", D, _raw(_finra(9_000_000, 3_000_000)), r"ShortVolume|short"),
    # --- missing values --------------------------------------------------------------
    Case(
        "close_nan.csv", P, _edit(P, 44, "close", "nan"), r"row 4\d \(2026-06-0\d\): \w+ is missing"
    ),
    Case(
        "close_empty.csv", P, _edit(P, 44, "close", ""), r"row 4\d \(2026-06-0\d\): \w+ is missing"
    ),
    Case(
        "close_na.csv", P, _edit(P, 44, "close", "N/A"), r"row 4\d \(2026-06-0\d\): \w+ is missing"
    ),
    Case("high_empty.csv", P, _edit(P, 45, "high", ""), r"row 4\d \(2026-06-0\d\): \w+ is missing"),
    # --- the wrong file -----------------------------------------------------------
    Case("VIX_History.csv", P, _vix_as_prices, r"VIX"),
    Case("DIX.csv", P, _dix_like, r"DIX|S&P|SqueezeMetrics"),
    Case("spx_levels.csv", P, _index_levels(22.0), r"IWM|range|level"),
    Case("rut_levels.csv", P, _index_levels(9.0), r"IWM|range|level"),
    Case("cents.csv", P, _index_levels(100.0), r"IWM|range|level"),
    Case("iwm_as_vix.csv", V, _frame_edit(V, _scale(("OPEN", "HIGH", "LOW", "CLOSE"), 12)), r"VIX"),
    # --- not a CSV at all -----------------------------------------------------------
    Case("empty.csv", P, _raw(b""), r"empty"),
    Case("blank_lines.csv", P, _raw(b"\n\n  \n\r\n"), r"empty"),
    Case("header_only.csv", P, _text("date,open,high,low,close,volume\n"), r"no data rows"),
    Case("bom_only.csv", P, _raw(b"\xef\xbb\xbf"), r"empty"),
    Case("utf16.csv", P, lambda: healthy_texts()["prices"].encode("utf-16"), r"UTF-16|UTF-8"),
    Case(
        "latin1.csv",
        P,
        lambda: healthy_texts()["prices"].replace("date", "Datum (Schlu\u00df)").encode("latin-1"),
        r"UTF-8",
    ),
    Case(
        "binary.csv", P, lambda: bytes(np.random.default_rng(7).integers(0, 256, 5000)), r"binary"
    ),
    Case("png.csv", P, _raw(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64), r"binary"),
    Case("gzipped.csv", P, lambda: gzip.compress(healthy_texts()["prices"].encode()), r"gzip"),
    Case(
        "nul_bytes.csv",
        P,
        lambda: healthy_texts()["prices"].replace("\n", "\n\x00", 3).encode(),
        r"NUL|binary",
    ),
    Case("json.csv", P, _text('{"date": "2024-01-02", "close": 200}\n'), r"JSON"),
    Case("semicolon.csv", P, _text("date;close\n2024-01-02;200,5\n"), r"';'"),
    Case("html.csv", P, _text("<!DOCTYPE html><html><body>Access denied</body></html>\n"), r"HTML"),
    Case("long_header.csv", P, _long_header, r"header|line"),
    Case("long_line.csv", P, _long_line, r"line"),
    Case("ragged.csv", P, _ragged, r"row|line|fields"),
    Case("no_close.csv", P, _text("date,px\n2024-01-02,200\n"), r"close"),
    Case("no_date.csv", P, _text("when,close\nmonday,200\n"), r"date"),
    Case("gex_no_column.csv", G, _text("date,gamma\n2024-01-02,1e9\n"), r"gex"),
    Case("dp_only_date.csv", D, _text("date\n2024-01-02\n"), r"dark_pool|ShortVolume"),
    # --- history that must not replace the store's ------------------------------------
    Case("too_short.csv", P, _too_short, r"rows|history"),
)

#: Usable files that must say what is odd about them (regex on the note or warning).
ODD: tuple[Case, ...] = (
    Case("high_rounding.csv", P, _frame_edit(P, _round_high), r"repaired"),
    Case("unadjusted.csv", P, _frame_edit(P, lambda f: f.drop(columns="adj_close")), r"dividend"),
    Case("gex_millions.csv", G, _frame_edit(G, _scale(("gex",), 1e-6)), r"million"),
    Case("vix_gap.csv", V, _edit(V, 40, "CLOSE", ""), r"no (vix )?value"),
)
