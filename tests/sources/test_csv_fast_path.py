"""The CSV door's fast reader (pandas' C reader on clean files) against the careful one.

Both must give the same frame, warnings and notes, bit for bit; any file the fast reader
doubts goes to the careful reader, so its messages stay the careful reader's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.demo import demo_dataset
from engine.errors import InputDataError
from engine.series import Series
from sources import csv_import
from sources.csv_import import load_dataset, read_series
from sources.validate import Checked, read_text
from tests.sources.corpus import healthy

# (file under the raw data folder, kind): every one of them is clean enough for the
# fast reader.
REAL: list[tuple[str, Series]] = [
    ("kittycapital_etf-seasonality/IWM.csv", "prices"),
    ("guydekowski_market-lab/IWM.csv", "prices"),
    ("guydekowski_market-lab/VIX.csv", "vix"),
    ("noodles-rice_vix_dashboard/VIX_History.csv", "vix"),
    ("squeezemetrics_dix/DIX.csv", "gex"),
    ("xjcarter_data/IWM.csv", "prices"),
    ("xjcarter_data/RUT.csv", "prices"),
    ("xjcarter_data/VIX.csv", "vix"),
]


@contextmanager
def careful_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Within the block, every file goes to the careful reader."""
    with monkeypatch.context() as m:
        m.setattr(csv_import, "_fast_read", lambda text, kind: None)
        yield


def assert_same(fast: Checked, careful: Checked) -> None:
    pd.testing.assert_frame_equal(fast.frame, careful.frame, check_exact=True)
    assert fast.frame.index.dtype == careful.frame.index.dtype
    assert fast.frame.index.name == careful.frame.index.name
    for column in careful.frame.columns:
        a = fast.frame[column].to_numpy(dtype=np.float64)
        b = careful.frame[column].to_numpy(dtype=np.float64)
        assert np.array_equal(a.view(np.int64), b.view(np.int64)), column  # same bits
    assert fast.warnings == careful.warnings
    assert fast.notes == careful.notes


def outcome(path: Path, kind: Series) -> Checked | str:
    """What reading gives: the checked series, or the one-line message of its refusal."""
    try:
        return read_series(path, kind)
    except InputDataError as exc:
        return str(exc)


def assert_same_outcome(path: Path, kind: Series, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = outcome(path, kind)
    with careful_only(monkeypatch):
        careful = outcome(path, kind)
    if isinstance(careful, str) or isinstance(fast, str):
        assert fast == careful
    else:
        assert_same(fast, careful)


@pytest.mark.parametrize(("name", "kind"), REAL)
def test_real_files_read_fast_give_the_careful_result(
    raw_data_dir: Path, name: str, kind: Series, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = raw_data_dir / name
    assert csv_import._fast_read(read_text(path), kind) is not None  # the fast path ran
    assert_same_outcome(path, kind, monkeypatch)


def test_a_real_dataset_is_the_same_through_either_reader(
    raw_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "prices": raw_data_dir / "guydekowski_market-lab" / "IWM.csv",
        "vix": raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv",
        "gex": raw_data_dir / "squeezemetrics_dix" / "DIX.csv",
    }
    fast = load_dataset(files["prices"], vix=files["vix"], gex=files["gex"])
    with careful_only(monkeypatch):
        careful = load_dataset(files["prices"], vix=files["vix"], gex=files["gex"])
    pd.testing.assert_frame_equal(fast.frame, careful.frame, check_exact=True)
    assert fast.warnings == careful.warnings
    assert fast.provenance == careful.provenance
    assert fast.gex_series == careful.gex_series


def test_the_demo_and_the_healthy_corpus_read_fast_and_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = demo_dataset(years=5).frame
    path = tmp_path / "demo.csv"
    demo.to_csv(path, index_label="date")
    assert csv_import._fast_read(read_text(path), "prices") is not None
    # The demo's weekdays include NYSE holidays, which both readers leave out.
    assert 0.9 * len(demo) < len(read_series(path, "prices").frame) < len(demo)
    assert_same_outcome(path, "prices", monkeypatch)
    for kind, file in healthy(tmp_path / "healthy").items():
        if kind == "dark_pool":  # the ratio is derived: not a fast-path file
            assert csv_import._fast_read(read_text(file), kind) is None
        else:
            assert csv_import._fast_read(read_text(file), kind) is not None, kind
        assert_same_outcome(file, kind, monkeypatch)


def test_random_decimals_parse_to_the_same_bits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many digits, tiny and huge magnitudes, signs, leading and trailing dots."""
    rng = np.random.default_rng(7)
    n = 4000
    days = pd.bdate_range("2000-01-03", periods=n)
    close = [
        f"{v:.{d}f}"
        for v, d in zip(np.exp(rng.uniform(-5, 12, n)), rng.integers(0, 19, n), strict=True)
    ]
    close[:4] = ["5.", "0.5", "100", "123456789012345"]
    volume = [str(v) for v in rng.integers(0, 10**15, n)]
    text = "date,close,volume\n" + "".join(
        f"{d:%Y-%m-%d},{c},{v}\n" for d, c, v in zip(days, close, volume, strict=True)
    )
    path = tmp_path / "decimals.csv"
    path.write_text(text)
    assert csv_import._fast_read(text, "prices") is not None
    assert_same_outcome(path, "prices", monkeypatch)


def _clean() -> str:
    days = pd.bdate_range("2020-01-01", periods=300)
    return "date,open,high,low,close,volume\n" + "".join(
        f"{d:%Y-%m-%d},{100 + i % 7}.5,{102 + i % 7}.25,{99 + i % 7},{101 + i % 7}.125,{1000 + i}\n"
        for i, d in enumerate(days)
    )


def _edit(line: int, old: str, new: str) -> str:
    lines = _clean().splitlines(keepends=True)
    assert old in lines[line]
    lines[line] = lines[line].replace(old, new, 1)
    return "".join(lines)


DOUBTS = {
    "negative zero": _edit(41, ",1040", ",-0"),
    "negative zero with decimals": _edit(41, ",1040", ",-0.0"),
    "quoted thousands": _edit(41, ",1040", ',"1,040"'),
    "unquoted thousands": _edit(41, ",1040", ",1,040"),
    "empty cell": _edit(41, ",1040", ","),
    "missing field": _edit(41, ",1040\n", "\n"),
    "extra field": _edit(41, ",1040", ",1040,7"),
    "missing marker": _edit(41, ",1040", ",n/a"),
    "spaces": _edit(41, ",1040", ", 1040"),
    "blank line": _edit(41, "\n", "\n\n"),
    "compact date": _edit(41, "2020-02-26", "20200226"),
    "slashed date": _edit(41, "2020-02-26", "2020/02/26"),
    "bad date": _edit(41, "2020-02-26", "2020-02-30"),
    "duplicate date": _edit(42, "2020-02-27", "2020-02-26"),
    "date with time": _edit(41, "2020-02-26", "2020-02-26T00:00"),
    "scientific": _edit(41, ",1040", ",1.04e3"),
    "huge integer": _edit(41, ",1040", ",12345678901234567"),
    "two dots": _edit(41, ",1040", ",10.4.0"),
    "lone dash": _edit(41, ",1040", ",-"),
    "header spaces": _clean().replace("date,open", " date,open", 1),
    "lone carriage returns": _clean().replace("\n", "\r"),
    "broken close": _edit(41, ",106.125", ",1-06.125"),
}


@pytest.mark.parametrize("case", sorted(DOUBTS))
def test_a_doubtful_file_goes_to_the_careful_reader(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = DOUBTS[case]
    assert csv_import._fast_read(text, "prices") is None
    path = tmp_path / "doubt.csv"
    path.write_bytes(text.encode())
    assert_same_outcome(path, "prices", monkeypatch)


FAST_EDITS = {
    "negative fraction": _edit(41, ",1040", ",-0.5"),
    "long fraction": _edit(41, ",106.125", ",106.12500000000000000001"),
    "leading dot": _edit(41, ",106.125", ",.125"),
}


@pytest.mark.parametrize("case", sorted(FAST_EDITS))
def test_odd_but_clean_cells_stay_fast_and_the_same(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = FAST_EDITS[case]
    assert csv_import._fast_read(text, "prices") is not None
    path = tmp_path / "odd.csv"
    path.write_bytes(text.encode())
    assert_same_outcome(path, "prices", monkeypatch)


def test_negative_zero_first_in_a_line_is_doubted() -> None:
    lines = _clean().splitlines(keepends=True)
    head, body = lines[0], lines[1:]
    moved = "volume," + head.removesuffix("\n").removesuffix(",volume") + "\n"
    rows = [r.rsplit(",", 1) for r in body]
    text = moved + "".join(f"{v.strip()},{rest}\n" for rest, v in rows)
    assert csv_import._fast_read(text, "prices") is not None
    assert csv_import._fast_read(text.replace("\n1040,", "\n-0,", 1), "prices") is None
    assert csv_import._fast_read(text.replace("\n1040,", "\n-000,", 1), "prices") is None


def test_crlf_line_ends_and_a_missing_last_newline_stay_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for text in (_clean().replace("\n", "\r\n"), _clean().rstrip("\n")):
        assert csv_import._fast_read(text, "prices") is not None
        path = tmp_path / "variant.csv"
        path.write_bytes(text.encode())
        assert_same_outcome(path, "prices", monkeypatch)
