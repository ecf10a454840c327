"""Validation at the door: what reading and checking a file costs, and how fast the
pathological files are refused (medians of one run).

* the 26-year IWM file (6,598 rows) read and validated, against pandas' bare read_csv
  of the same file (the ratio is what validation adds) and against the careful reader
  alone (the fast reader switched off: what every file the fast reader doubts costs);
* a 4 MB single-line header (pandas alone spent minutes on such a file) and a 2 MB
  data line, refused.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from engine.errors import InputDataError
from sources import csv_import
from sources.csv_import import read_series
from tests.conftest import RAW_DATA_DIR
from tests.sources.corpus import BROKEN, healthy

REPEATS = 7


def _median(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _refused(path: Path) -> Callable[[], None]:
    def run() -> None:
        try:
            read_series(path, "prices")
        except InputDataError:
            return
        raise AssertionError(f"{path.name} was not refused")

    return run


def run() -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        real = RAW_DATA_DIR / "kittycapital_etf-seasonality" / "IWM.csv"
        iwm = real if real.is_file() else healthy(folder / "good")["prices"]
        validated = _median(lambda: read_series(iwm, "prices"))
        bare = _median(lambda: pd.read_csv(iwm))
        fast_read = csv_import._fast_read
        csv_import._fast_read = lambda text, kind: None  # type: ignore[assignment]
        try:
            careful = _median(lambda: read_series(iwm, "prices"))
        finally:
            csv_import._fast_read = fast_read
        lines.append(
            f"{iwm.name}: read + validated {validated * 1e3:.1f} ms, pandas read_csv alone "
            f"{bare * 1e3:.1f} ms (x{validated / bare:.1f}); careful reader alone "
            f"{careful * 1e3:.1f} ms (x{careful / validated:.1f} the fast path)"
        )
        for name in ("long_header.csv", "long_line.csv", "binary.csv", "gzipped.csv"):
            case = next(c for c in BROKEN if c.name == name)
            path = folder / name
            path.write_bytes(case.make())
            took = _median(_refused(path))
            lines.append(
                f"{name} ({path.stat().st_size / 1e6:.1f} MB) refused in {took * 1e3:.1f} ms"
            )
    return lines
