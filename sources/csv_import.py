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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from engine.dataset import MIN_ROWS, Dataset, assemble
from engine.errors import InputDataError
from engine.series import AUX_SERIES, Series

log = logging.getLogger(__name__)

__all__ = ["MIN_ROWS", "Dataset", "assemble", "load_dataset", "read_series_csv"]

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


def _read_raw(path: Path) -> pd.DataFrame:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InputDataError(f"file not found: {path}") from exc
    except OSError as exc:
        raise InputDataError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{Path(path).name} is not a UTF-8 text/CSV file") from exc
    if not text.strip():
        raise InputDataError(f"{Path(path).name} is empty")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = lines[0]
    if head.lstrip().startswith(("{", "[")):
        raise InputDataError(
            f"{Path(path).name} looks like JSON, not CSV; give a CSV with a header row "
            "(date, close, ...)"
        )
    if head.count(";") > max(head.count(","), head.count("|")):
        # Semicolon files usually carry decimal commas too; guessing would misread numbers.
        raise InputDataError(
            f"{Path(path).name} separates columns with ';'; save it as comma-separated "
            "CSV with '.' as the decimal point"
        )
    sep = "|" if head.count("|") > head.count(",") else ","
    if sep == "|" and len(lines) > 1 and "|" not in lines[-1]:
        lines = lines[:-1]  # FINRA files end with a bare record-count line
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, dtype=str)
    except (pd.errors.ParserError, csv.Error) as exc:
        raise InputDataError(f"{Path(path).name} is not a readable CSV file: {exc}") from exc
    if frame.empty:
        raise InputDataError(f"{Path(path).name} has a header but no data rows")
    return frame


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


def _parse_dates(raw: pd.Series, name: str) -> pd.DatetimeIndex:
    text = raw.astype(str).str.strip().str.slice(0, 10)
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%Y/%m/%d"):
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if parsed.notna().mean() > 0.5:
            break
    bad = parsed.isna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise InputDataError(
            f"{name}: cannot read the date {raw.iloc[row]!r} on data row {row + 1} "
            "(accepted: YYYY-MM-DD, MM/DD/YYYY, YYYYMMDD)"
        )
    idx = pd.DatetimeIndex(parsed).normalize()
    dupes = idx[idx.duplicated()]
    if len(dupes):
        shown = ", ".join(str(d.date()) for d in dupes[:3])
        raise InputDataError(f"{name}: duplicate dates ({shown}); keep one row per day")
    return idx


def _numbers(raw: pd.Series, column: str, name: str, *, positive: bool) -> pd.Series:
    cleaned = raw.astype(str).str.strip().str.replace(",", "", regex=False)
    cleaned = cleaned.mask(cleaned.str.lower().isin(("", "nan", "null", "none", "na")))
    values = pd.to_numeric(cleaned, errors="coerce")
    bad = values.isna() & cleaned.notna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise InputDataError(
            f"{name}: column '{column}' has a non-numeric value {raw.iloc[row]!r} "
            f"on data row {row + 1}"
        )
    if positive:
        nonpos = values <= 0
        if nonpos.any():
            row = int(np.argmax(nonpos.to_numpy()))
            raise InputDataError(
                f"{name}: column '{column}' must be positive; found {values.iloc[row]:g} "
                f"on data row {row + 1}"
            )
    return values.astype("float64")


def read_series_csv(path: Path, kind: Series) -> pd.DataFrame:
    """Read one CSV as ``kind``: a date-indexed frame with canonical column names.

    ``prices`` gives open/high/low/close/adj_close/volume plus any vix/gex/dark_pool
    columns present in the same file; ``vix`` gives ``vix``; ``gex`` gives ``gex``;
    ``dark_pool`` gives ``dark_pool`` (derived from ShortVolume and TotalVolume when the
    ratio itself is absent), with ``short_volume``/``total_volume`` when present.
    """
    path = Path(path)
    name = path.name
    raw = _read_raw(path)
    cols = _match_columns(list(raw.columns))
    seen = ", ".join(str(c) for c in raw.columns)
    if kind == "vix" and "vix" not in cols and "close" in cols:
        cols["vix"] = cols["close"]  # CBOE's VIX_History.csv: DATE,OPEN,HIGH,LOW,CLOSE
    if kind == "dark_pool" and "symbol" in {c.lower() for c in raw.columns}:
        raise InputDataError(
            f"{name}: this looks like a FINRA file with many symbols; import it with "
            "'iwm-analyst update' or give one row per day"
        )
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
    index = _parse_dates(raw[cols["date"]], name)
    out = pd.DataFrame(index=pd.DatetimeIndex(index, name="date"))
    wanted = {
        "prices": ("open", "high", "low", "close", "adj_close", "volume", "vix", "gex"),
        "vix": ("vix",),
        "gex": ("gex",),
        "dark_pool": ("dark_pool", "short_volume", "total_volume"),
    }[kind]
    for role in wanted:
        if role in cols:
            positive = role in ("open", "high", "low", "close", "adj_close", "vix")
            out[role] = _numbers(raw[cols[role]], cols[role], name, positive=positive).to_numpy()
    if kind == "prices" and "dark_pool" in cols:
        ratio = _numbers(raw[cols["dark_pool"]], cols["dark_pool"], name, positive=False)
        out["dark_pool"] = ratio.to_numpy()
    if "dark_pool" in wanted and "dark_pool" not in out and "short_volume" in out:
        lit = out["total_volume"] - out["short_volume"]
        out["dark_pool"] = (out["short_volume"] / lit).where(lit > 0)
    if kind == "prices":
        for role in ("open", "high", "low"):
            if role not in out:
                out[role] = out["close"]
    return out.sort_index()


def _is_squeezemetrics(path: Path) -> bool:
    try:
        with Path(path).open(encoding="utf-8-sig") as fh:
            header = fh.readline().strip().lower()
    except OSError:
        return False
    return header.replace(" ", "") == "date,price,dix,gex"


SQUEEZEMETRICS_NOTE: Final = (
    "SqueezeMetrics' SPX gamma exposure (DIX.csv), used as a stand-in: it is not IWM's own GEX"
)


def load_dataset(
    prices: Path,
    vix: Path | None = None,
    gex: Path | None = None,
    dark_pool: Path | None = None,
    *,
    gex_note: str | None = None,
    ffill_limit: int = 3,
) -> Dataset:
    """Read a prices CSV and optional VIX, GEX and dark-pool CSVs into a Dataset.

    The prices file may itself carry vix/gex/dark-pool columns; a separate file for a
    series takes precedence over the same column in the prices file.
    """
    price_frame = read_series_csv(Path(prices), "prices")
    sources = {"prices": Path(prices).name}
    aux: dict[str, pd.Series] = {}
    notes: dict[str, str] = {}
    for name in AUX_SERIES:
        if name in price_frame:
            aux[name] = price_frame[name]
            sources[name] = Path(prices).name
    if vix is not None:
        aux["vix"] = read_series_csv(Path(vix), "vix")["vix"]
        sources["vix"] = Path(vix).name
    if gex is not None:
        aux["gex"] = read_series_csv(Path(gex), "gex")["gex"]
        sources["gex"] = Path(gex).name
        note = gex_note or (SQUEEZEMETRICS_NOTE if _is_squeezemetrics(Path(gex)) else None)
        if note:
            notes["gex"] = note
    if dark_pool is not None:
        aux["dark_pool"] = read_series_csv(Path(dark_pool), "dark_pool")["dark_pool"]
        sources["dark_pool"] = Path(dark_pool).name
    dataset = assemble(price_frame, aux, sources, notes=notes, ffill_limit=ffill_limit)
    log.info("loaded %s rows from %s", len(dataset.frame), sources)
    return dataset
