"""Reading a trader's own CSV files into the canonical daily frame.

Traders' files come from many places, so columns are matched case-insensitively through
aliases, in any order; dates may be ISO (``2024-08-05``), ``MM/DD/YYYY`` (CBOE) or
``YYYYMMDD`` (FINRA). Every problem becomes one :class:`InputDataError` line that says
what was wrong and what would be accepted. Input files are only ever read.

Auxiliary series (VIX, GEX, dark-pool ratio) are left-joined onto the price calendar, so
a print on an exchange holiday never creates a trading day, and gaps are forward-filled
for at most ``ffill_limit`` trading days, each fill reported as a warning.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.dataset import MIN_ROWS, Dataset, GexSeries, assemble
from engine.errors import InputDataError, InsufficientHistoryError, ProviderError
from engine.series import AUX_SERIES, Series
from sources.reading import looks_like_html
from sources.validate import (
    MAX_COLUMNS,
    Checked,
    Checks,
    check_aux,
    check_prices,
    read_text,
    unadjusted_warning,
)

log = logging.getLogger(__name__)

__all__ = [
    "MIN_ROWS",
    "Dataset",
    "assemble",
    "load_dataset",
    "read_dark_pool",
    "read_series",
    "read_series_csv",
]

ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "date": ("date", "timestamp", "time", "datetime", "day"),
    "open": ("open", "open_price"),
    "high": ("high", "high_price"),
    "low": ("low", "low_price"),
    "close": ("close", "close_price", "last", "price"),
    "adj_close": ("adj close", "adj_close", "adjclose", "adjusted_close", "adjusted close"),
    "volume": ("volume", "vol"),
    "vix": ("vix", "vix_close", "vixclose", "vix close"),
    "gex": ("gex", "net_gex", "total_gex", "netgex", "gamma_exposure"),
    "dark_pool": (
        "dark_pool",
        "stock_darkpoolbuysellratio",
        "dark_pool_ratio",
        "dp_ratio",
        "darkpool_ratio",
        "dark_pool_buy_sell_ratio",
    ),
    "short_volume": ("shortvolume", "short_volume"),
    "total_volume": ("totalvolume", "total_volume"),
}

_ROLE_COLUMNS: Final[Mapping[Series, tuple[str, ...]]] = {
    "prices": ("close",),
    "vix": ("vix",),
    "gex": ("gex",),
    "dark_pool": ("dark_pool",),
}


def _accepted(role: str) -> str:
    return ", ".join(ALIASES[role])


def _rows(n: int) -> npt.NDArray[np.int64]:
    return np.arange(1, n + 1, dtype=np.int64)


def parse_table(text: str, name: str) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """The text's cells as strings with their data-row numbers (1 = the row under the
    header); refuses JSON, HTML, ';'-separated files and rows with too many fields."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = lines[0]
    if head.lstrip().startswith(("{", "[")):
        raise InputDataError(
            f"{name} looks like JSON, not CSV; give a CSV with a header row (date, close, ...)"
        )
    check_structure(text, name)
    sep = "|" if head.count("|") > head.count(",") else ","
    if sep == "|" and len(lines) > 1 and "|" not in lines[-1]:
        lines = lines[:-1]  # FINRA files end with a bare record-count line
    try:
        table = list(csv.reader(lines, delimiter=sep))
    except csv.Error as exc:
        raise InputDataError(f"{name} is not a readable CSV file: {exc}") from exc
    columns = [c.strip() for c in table[0]]
    if len(columns) > MAX_COLUMNS:
        raise InputDataError(
            f"{name}: the header has {len(columns):,} columns (at most {MAX_COLUMNS}); "
            "this is not a daily data file"
        )
    body = table[1:]
    if not body:
        raise InputDataError(f"{name} has a header but no data rows")
    width = len(columns)
    for i, fields in enumerate(body, start=1):
        if len(fields) > width and any(c.strip() for c in fields[width:]):
            raise InputDataError(
                f"{name}: data row {i} has {len(fields)} fields but the header has {width}"
            )
    if any(len(c) != width for c in body):
        body = [(c + [""] * width)[:width] for c in body]
    return pd.DataFrame(body, columns=columns, dtype=str), _rows(len(body))


def check_structure(text: str, name: str) -> None:
    """Refuse an HTML page or a ';'-separated file before anything reads its columns."""
    if looks_like_html(text):
        raise InputDataError(f"{name} is an HTML page, not a CSV file (a saved error page?)")
    head = next((ln for ln in text.splitlines() if ln.strip()), "")
    if head.count(";") > max(head.count(","), head.count("|")):
        # Semicolon files usually carry decimal commas too; guessing would misread numbers.
        raise InputDataError(
            f"{name} separates columns with ';'; save it as comma-separated "
            "CSV with '.' as the decimal point"
        )


def _match_columns(columns: Sequence[str]) -> dict[str, str]:
    """Map canonical role -> actual column name (first alias that matches)."""
    lowered = {str(c).strip().lower(): str(c) for c in columns}
    found: dict[str, str] = {}
    for role, names in ALIASES.items():
        for name in names:
            if name in lowered:
                found[role] = lowered[name]
                break
    return found


def _guess_dates(text: pd.Series) -> pd.Series:
    """Dates read in the first accepted format that reads more than half the cells."""
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%Y/%m/%d"):
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if parsed.notna().mean() > 0.5:
            break
    return parsed


def _parse_dates(raw: pd.Series, name: str, rows: npt.NDArray[np.int64]) -> pd.DatetimeIndex:
    parsed = _guess_dates(raw.astype(str).str.strip().str.slice(0, 10))
    bad = parsed.isna()
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise InputDataError(
            f"{name}: cannot read the date {raw.iloc[i]!r} on data row {rows[i]} "
            "(accepted: YYYY-MM-DD, MM/DD/YYYY, YYYYMMDD)"
        )
    idx = pd.DatetimeIndex(parsed).normalize()
    dupes = idx.duplicated()
    if dupes.any():
        i = int(np.argmax(dupes))
        raise InputDataError(
            f"{name}: duplicate date {idx[i].date()} on data row {rows[i]}; keep one row per day"
        )
    return idx


_MISSING: Final = ("", "nan", "null", "none", "na", "n/a", "#n/a", "-", "--")


def _numbers(
    raw: pd.Series, column: str, name: str, rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Numbers of one column; missing markers become NaN (judged by the validator)."""
    values = pd.to_numeric(raw, errors="coerce")
    unread = values.isna()
    if not unread.any():  # the common case: every cell a plain number
        return values.to_numpy(dtype="float64")
    cleaned = raw[unread].astype(str).str.strip().str.replace(",", "", regex=False)
    cleaned = cleaned.mask(cleaned.str.lower().isin(_MISSING))
    values[unread] = pd.to_numeric(cleaned, errors="coerce")
    bad = values.isna() & cleaned.reindex(raw.index).notna()
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise InputDataError(
            f"{name}: column '{column}' has a non-numeric value {raw.iloc[i]!r} "
            f"on data row {rows[i]}"
        )
    return values.to_numpy(dtype="float64")


_WANTED: Final[Mapping[Series, tuple[str, ...]]] = {
    "prices": ("open", "high", "low", "close", "adj_close", "volume", "vix", "gex", "dark_pool"),
    "vix": ("vix",),
    "gex": ("gex",),
    "dark_pool": ("dark_pool", "short_volume", "total_volume"),
}
"""The columns read for each kind, in this order."""

_FAST_HEADER: Final = re.compile(r"[A-Za-z0-9_]+(?: [A-Za-z0-9_]+)*")
_FAST_BYTES: Final = b"0123456789.,-/\r\n"
"""The bytes a clean file's rows may hold."""
_EXACT_INTEGERS: Final = float(2**53)


def _fast_read(text: str, kind: Series) -> tuple[pd.DataFrame, npt.NDArray[np.int64]] | None:
    """The numbers of a clean file through pandas' C reader, or None on any doubt.

    A clean file: a header of plain names (letters, digits, '_', single inner spaces)
    that names the date and the kind's columns, then rows of digits, '.', '-', '/' and
    commas only, each with the header's number of fields, no blank line, dates of ten
    characters. Such a file gives exactly the frame the careful reader
    (:func:`parse_table`, :func:`_parse_dates`, :func:`_numbers`) gives: the same date
    formats are tried in the same order, and the C reader's floats are the bits of
    ``pd.to_numeric`` (the cells where they could differ are sent back). Any missing
    value, unreadable cell, odd date, duplicate day or other doubt returns None, so the
    careful reader reads the file and words every message.
    """
    end = text.find("\n")
    if end <= 0:
        return None
    header = text[:end].removesuffix("\r").split(",")
    body = text[end + 1 :]
    n_cr = text.count("\r")
    if (
        not body
        or len(header) > MAX_COLUMNS
        or (n_cr and n_cr != text.count("\r\n"))
        or "\n\n" in text
        or "\n\r\n" in text
        or not all(_FAST_HEADER.fullmatch(c) for c in header)
        or len({c.lower() for c in header}) != len(header)
        or is_finra(header)
        or (kind == "prices" and is_squeezemetrics(header))
        or not body.isascii()
    ):
        return None
    cols = _match_columns(header)
    if kind == "vix" and "vix" not in cols and "close" in cols:
        cols["vix"] = cols["close"]
    if "date" not in cols or any(r not in cols for r in _ROLE_COLUMNS[kind]):
        return None
    if not _same_width(body, len(header)):
        return None
    numeric = {role: cols[role] for role in _WANTED[kind] if role in cols}
    if cols["date"] in numeric.values():
        return None
    dtypes: dict[str, str] = {c: "float64" for c in numeric.values()}
    dtypes[cols["date"]] = "str"
    try:
        frame = pd.read_csv(
            io.StringIO(text), usecols=list(dtypes), dtype=dtypes, na_filter=False, engine="c"
        )
    except (ValueError, TypeError, OverflowError):
        return None
    dates = frame[cols["date"]]
    if not (dates.str.len() == 10).all():
        return None
    parsed = _guess_dates(dates)
    if parsed.isna().any():
        return None
    index = pd.DatetimeIndex(parsed).normalize()
    if index.has_duplicates:
        return None
    out = pd.DataFrame(index=pd.DatetimeIndex(index, name="date"))
    for role, column in numeric.items():
        values = frame[column].to_numpy(dtype="float64")
        if not _same_as_to_numeric(values):
            return None
        out[role] = values
    return out, _rows(len(frame))


def _same_width(body: str, width: int) -> bool:
    """True when ``body`` holds only digits, '.', '-', '/', commas and line ends, and
    every line has ``width`` fields (no blank line)."""
    raw = body.encode("ascii")
    if raw.translate(None, _FAST_BYTES):
        return False
    data = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if not ends.size or ends[-1] != data.size - 1:
        ends = np.append(ends, data.size)
    commas = np.flatnonzero(data == ord(","))
    per_line = np.bincount(np.searchsorted(ends, commas), minlength=ends.size)
    return bool(per_line.size == ends.size and (per_line == width - 1).all())


def _same_as_to_numeric(values: npt.NDArray[np.float64]) -> bool:
    """False where ``pd.to_numeric`` might give other bits than the C reader: NaN (a
    missing cell), -0.0 (``pd.to_numeric`` reads an all-integer column as int64, so "-0"
    becomes +0.0), and magnitudes from 2**53 (an integer cell that long is rounded to
    float64 once by the C reader but twice, through int64, by ``pd.to_numeric``)."""
    with np.errstate(invalid="ignore"):
        return not (
            np.isnan(values).any()
            or (np.abs(values) >= _EXACT_INTEGERS).any()
            or np.signbit(values[values == 0.0]).any()
        )


def is_squeezemetrics(columns: Sequence[str]) -> bool:
    """SqueezeMetrics' DIX.csv: date,price,dix,gex (S&P 500 price, DIX and GEX)."""
    return [c.strip().lower() for c in columns][:4] == ["date", "price", "dix", "gex"]


def is_finra(columns: Sequence[str]) -> bool:
    """A FINRA consolidated short-volume file (CNMSshvolYYYYMMDD.txt) header."""
    return [c.strip().lower() for c in columns][:3] == ["date", "symbol", "shortvolume"]


def read_series(
    path: Path, kind: Series, checks: Checks | None = None, *, text: str | None = None
) -> Checked:
    """Read and validate one file as ``kind`` (see :func:`read_series_csv`).

    The result's frame is sorted, one row per date; its warnings and notes say what was
    repaired, left out or is odd. A FINRA short-volume file is read for ``checks.ticker``.
    """
    path = Path(path)
    name = path.name
    checks = checks or Checks()
    text = read_text(path) if text is None else text
    fast = _fast_read(text, kind)
    if fast is not None:
        return _finish_series(fast[0], fast[1], name, checks, kind)
    raw, rows = parse_table(text, name)
    if is_finra(list(raw.columns)):
        if kind != "dark_pool":
            raise InputDataError(
                f"{name} is a FINRA short-volume file; give it as --dark-pool "
                "(or import it with --kind dark_pool)"
            )
        return read_finra_text(text, name, checks)
    if kind == "prices" and is_squeezemetrics(list(raw.columns)):
        raise InputDataError(
            f"{name} is SqueezeMetrics' DIX/GEX file (S&P 500 price, DIX and GEX), not "
            f"{checks.ticker} prices; give it as --gex"
        )
    cols = _match_columns(list(raw.columns))
    seen = ", ".join(str(c) for c in raw.columns)
    if kind == "vix" and "vix" not in cols and "close" in cols:
        cols["vix"] = cols["close"]  # CBOE's VIX_History.csv: DATE,OPEN,HIGH,LOW,CLOSE
    if "date" not in cols:
        raise InputDataError(
            f"{name}: column 'date' not found; columns seen: {seen}; "
            f"accepted names: {_accepted('date')}"
        )
    for role in _ROLE_COLUMNS[kind]:
        derivable = role == "dark_pool" and {"short_volume", "total_volume"} <= cols.keys()
        if role not in cols and not derivable:
            extra = " (or ShortVolume and TotalVolume)" if role == "dark_pool" else ""
            raise InputDataError(
                f"{name}: column '{role}' not found; columns seen: {seen}; "
                f"accepted names: {_accepted(role)}{extra}"
            )
    index = _parse_dates(raw[cols["date"]], name, rows)
    out = pd.DataFrame(index=pd.DatetimeIndex(index, name="date"))
    for role in _WANTED[kind]:
        if role in cols:
            out[role] = _numbers(raw[cols[role]], cols[role], name, rows)
    return _finish_series(out, rows, name, checks, kind)


def _finish_series(
    out: pd.DataFrame, rows: npt.NDArray[np.int64], name: str, checks: Checks, kind: Series
) -> Checked:
    """Validate the numbers of one file read as ``kind`` (both readers end here)."""
    wanted = _WANTED[kind]
    if kind == "prices":
        return _checked_prices(out, rows, name, checks)
    if "dark_pool" in wanted and "dark_pool" not in out and "short_volume" in out:
        lit = out["total_volume"] - out["short_volume"]
        out["dark_pool"] = (out["short_volume"] / lit).where(lit > 0)
    if kind == "dark_pool" and "short_volume" in out:
        bad = out["short_volume"] > out["total_volume"]
        if bad.any():  # refuse by the validator's words, before the ratio hides it
            check_aux(out, rows, name, checks, kind)
    return check_aux(out, rows, name, checks, kind)


def _checked_prices(
    out: pd.DataFrame, rows: npt.NDArray[np.int64], name: str, checks: Checks
) -> Checked:
    aux_cols = [c for c in AUX_SERIES if c in out]
    aux = out[aux_cols]
    prices = out.drop(columns=aux_cols)
    for role in ("open", "high", "low"):
        if role not in prices:
            prices[role] = prices["close"]
    result = check_prices(prices, rows, name, checks)
    if "adj_close" not in prices:
        result.warnings.append(unadjusted_warning(name))
    if aux_cols:
        result.frame = result.frame.join(aux)
    return result


def read_series_csv(path: Path, kind: Series, checks: Checks | None = None) -> pd.DataFrame:
    """Read one CSV as ``kind``: a date-indexed frame with canonical column names.

    ``prices`` gives open/high/low/close/adj_close/volume plus any vix/gex/dark_pool
    columns present in the same file; ``vix`` gives ``vix``; ``gex`` gives ``gex``;
    ``dark_pool`` gives ``dark_pool`` (derived from ShortVolume and TotalVolume when the
    ratio itself is absent), with ``short_volume``/``total_volume`` when present.
    Values are validated (:mod:`sources.validate`); see :func:`read_series` for the
    warnings.
    """
    return read_series(path, kind, checks).frame


def read_finra_text(text: str, name: str, checks: Checks) -> Checked:
    """One FINRA CNMS file as a one-day dark-pool frame for ``checks.ticker``."""
    from sources.providers.finra import parse_short_volume, to_frame

    try:
        row = parse_short_volume(text, checks.ticker, name)
    except ProviderError as exc:
        raise InputDataError(str(exc)) from exc
    if row is None:
        raise InputDataError(f"{name}: no {checks.ticker} row in this FINRA file")
    frame = to_frame([row]).rename(columns={"ratio": "dark_pool"})
    return check_aux(frame, _rows(1), name, checks, "dark_pool")


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files named, with each folder replaced by the files in it (sorted, not hidden)."""
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not inside:
                raise InputDataError(f"the folder {path} holds no files")
            out += inside
        else:
            out.append(path)
    return out


def read_dark_pool(paths: Sequence[Path], checks: Checks | None = None) -> Checked:
    """One or many dark-pool files (CSV or FINRA CNMS files, or folders of them) as one
    series; two files with the same day are refused."""
    checks = checks or Checks()
    parts = [read_series(p, "dark_pool", checks) for p in expand_paths(paths)]
    if len(parts) == 1:
        return parts[0]
    frame = pd.concat([p.frame for p in parts]).sort_index()
    dupes = frame.index.duplicated()
    if dupes.any():
        day = frame.index[dupes][0].date()
        names = [str(p) for p, part in zip(expand_paths(paths), parts, strict=True)
                 if pd.Timestamp(day) in part.frame.index]  # fmt: skip
        raise InputDataError(f"{' and '.join(Path(n).name for n in names[:2])} both hold {day}")
    return Checked(
        frame=frame,
        warnings=[w for p in parts for w in p.warnings],
        notes=[n for p in parts for n in p.notes],
    )


SQUEEZEMETRICS_NOTE: Final = (
    "SqueezeMetrics' SPX gamma exposure (DIX.csv), used as a stand-in: it is not IWM's own GEX"
)


def stand_in_note(underlying: str, ticker: str) -> str:
    return f"{underlying} gamma exposure used as a stand-in: it is not {ticker}'s own GEX"


def gex_file_series(
    text: str, source: str, ticker: str = "IWM", underlying: str | None = None
) -> GexSeries:
    """Whose GEX a history file holds: ``underlying`` when declared, SPX for
    SqueezeMetrics' DIX.csv, else the ticker's own (an imported history)."""
    header = next((ln for ln in text.splitlines() if ln.strip()), "")
    dix = is_squeezemetrics(header.split(","))
    who = (underlying or ("SPX" if dix else ticker)).upper()
    stand_in = who != ticker.upper()
    note = None
    if stand_in:
        note = (
            SQUEEZEMETRICS_NOTE if dix and ticker.upper() == "IWM" else stand_in_note(who, ticker)
        )
    return GexSeries(underlying=who, method="history", source=source, stand_in=stand_in, note=note)


def load_dataset(
    prices: Path,
    vix: Path | None = None,
    gex: Path | None = None,
    dark_pool: Path | Sequence[Path] | None = None,
    *,
    gex_note: str | None = None,
    ffill_limit: int = 3,
    checks: Checks | None = None,
) -> Dataset:
    """Read a prices CSV and optional VIX, GEX and dark-pool files into a Dataset.

    The prices file may itself carry vix/gex/dark-pool columns; a separate file for a
    series takes precedence over the same column in the prices file. ``dark_pool`` may
    be several files or a folder (FINRA CNMS files, one per day). ``checks`` carries the
    clock's dates and the ticker's bounds (:class:`sources.validate.Checks`); every
    warning of the validation joins the dataset's.
    """
    checks = checks or Checks()
    price_read = read_series(Path(prices), "prices", checks)
    price_frame = price_read.frame
    warnings = list(price_read.warnings)
    sources = {"prices": Path(prices).name}
    aux: dict[str, pd.Series] = {}
    notes: dict[str, str] = {}
    for name in AUX_SERIES:
        if name in price_frame:
            aux[name] = price_frame[name]
            sources[name] = Path(prices).name
    if vix is not None:
        read = read_series(Path(vix), "vix", checks)
        aux["vix"], sources["vix"] = read.frame["vix"], Path(vix).name
        warnings += read.warnings
    series: list[GexSeries] = []
    if "gex" in aux:
        series.append(gex_file_series("", sources["gex"], checks.ticker, None))
    if gex is not None:
        text = read_text(Path(gex))
        read = read_series(Path(gex), "gex", checks, text=text)
        aux["gex"], sources["gex"] = read.frame["gex"], Path(gex).name
        warnings += read.warnings
        series = [gex_file_series(text, Path(gex).name, checks.ticker)]
        if gex_note:
            series = [replace(series[0], note=gex_note, stand_in=True)]
        if series[0].note:
            notes["gex"] = series[0].note
    if dark_pool is not None:
        paths = [Path(dark_pool)] if isinstance(dark_pool, str | Path) else list(dark_pool)
        read = read_dark_pool(paths, checks)
        aux["dark_pool"] = read.frame["dark_pool"]
        sources["dark_pool"] = ", ".join(p.name for p in paths)
        warnings += read.warnings
    try:
        dataset = assemble(
            price_frame,
            aux,
            sources,
            notes=notes,
            ffill_limit=ffill_limit,
            gex_series=series,
        )
    except InsufficientHistoryError as exc:
        raise InsufficientHistoryError(f"{Path(prices).name}: {exc}") from exc
    log.info("loaded %s rows from %s", len(dataset.frame), sources)
    return replace(dataset, warnings=(*warnings, *dataset.warnings))
