"""``import``: the user's files into the store, all of them or none.

Every file is read and validated first (:mod:`sources.validate`), then compared with
what the store holds. A file whose rows differ from stored ones (a different or shorter
history over the same days) is refused with a summary of what would change, unless the
import is asked to ``replace``; then, and only then, every file is written in one
transaction, so a failure leaves the store exactly as it was.

Kinds: the four series, plus ``chain`` (an option-chain JSON, stored as the ticker's
GEX snapshot of the session it shows). FINRA CNMS short-volume files and folders of them
are dark-pool files. Only the columns a file has are written: importing closes never
erases a stored adjusted close or volume.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from engine.errors import InputDataError, UserInputError
from engine.gex import GexResult, compute_gex
from engine.series import Series
from sources.csv_import import (
    check_structure,
    expand_paths,
    gex_file_series,
    is_finra,
    is_squeezemetrics,
    read_series,
)
from sources.store import VALUE_COLUMN, Store
from sources.validate import Checks, read_text

log = logging.getLogger(__name__)

Kind = Series | Literal["chain"]
KINDS: tuple[str, ...] = ("prices", "vix", "gex", "dark_pool", "chain")

#: The store columns each kind's frame supplies (what is compared and written).
_COLUMNS: dict[Series, tuple[str, ...]] = {
    "prices": ("open", "high", "low", "close", "adj_close", "volume"),
    "vix": ("close",),
    "gex": ("net_gex",),
    "dark_pool": ("short_volume", "total_volume", "ratio"),
}


def guess_kind(path: Path, text: str | None = None) -> Kind:
    """What a file holds, from its first line (or JSON body): prices, VIX, GEX, dark
    pool (also FINRA CNMS files) or an option chain."""
    if text is None and _is_json(path):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputDataError(f"{path.name} is not a readable JSON file ({exc})") from exc
        if isinstance(payload, dict) and ("data" in payload or "quotes" in payload):
            return "chain"
        raise UserInputError(f"{path.name} is JSON but not an option chain; give a CSV file")
    text = read_text(path) if text is None else text
    head = text.lstrip()
    check_structure(text, path.name)
    header = head.splitlines()[0] if head else ""
    raw_cols = [c.strip().strip('"') for c in header.replace("|", ",").split(",")]
    cols = {c.lower() for c in raw_cols}
    if is_finra(raw_cols):
        return "dark_pool"
    if is_squeezemetrics(raw_cols) or cols & {"gex", "net_gex", "netgex", "total_gex"}:
        return "gex"
    if cols & {"dp_ratio", "ratio", "shortvolume", "short_volume", "dark_pool", "dix"}:
        return "dark_pool"
    # An index file often carries an all-zero volume column, so the name decides first.
    if "vix" in cols or "vix_close" in cols or "vix" in path.stem.lower():
        return "vix"
    if cols & {"volume", "adj close", "adj_close", "close", "open"}:
        return "prices"
    shown = ", ".join(sorted(c for c in cols if c)[:8]) or "none"
    raise UserInputError(
        f"cannot tell what {path.name} holds from its columns ({shown}); "
        "pass --kind prices|vix|gex|dark_pool|chain"
    )


def _is_json(path: Path) -> bool:
    """True when the file's first non-blank byte opens a JSON object or array (a chain
    file is often one long line, so it is read as JSON, not through the CSV door)."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head[:1] in (b"{", b"[")


@dataclass
class FileRead:
    """One file, read and validated, ready to be written."""

    path: Path
    kind: Kind
    frame: pd.DataFrame  # store columns on a date index
    underlying: str | None = None  # GEX: whose gamma
    notes: list[str] = field(default_factory=list)
    snapshot: GexResult | None = None  # chain: the computed snapshot
    day: dt.date | None = None  # chain: the session it shows

    @property
    def series(self) -> Series:
        return "gex" if self.kind == "chain" else self.kind

    @property
    def method(self) -> str:
        return "chain" if self.kind == "chain" else "history"

    @property
    def source(self) -> str:
        return f"import:{self.path.name}"


@dataclass
class Difference:
    """Where a file disagrees with the store (or with another file of the command)."""

    path: Path
    series: Series
    dates: list[dt.date]
    example: str

    def describe(self) -> str:
        n = len(self.dates)
        span = (
            f"{self.dates[0]}" if n == 1 else f"{n} days from {self.dates[0]} to {self.dates[-1]}"
        )
        return f"{self.path.name}: {self.series} differs from the store on {span} ({self.example})"


@dataclass
class ImportResult:
    reads: list[FileRead]
    differences: list[Difference]
    changed: dict[str, int] = field(default_factory=dict)  # file name -> rows written
    written: bool = False


def read_files(
    paths: Sequence[Path],
    kind: Kind | None,
    checks: Checks,
    *,
    underlying: str | None = None,
    adv_dollars: float | None = None,
) -> list[FileRead]:
    """Read and validate every file (folders expanded); InputDataError at the first bad one."""
    files = expand_paths(paths)
    reads = [_read_one(p, kind, checks, underlying, adv_dollars) for p in files]
    _check_overlaps(reads)
    return reads


def _read_one(
    path: Path,
    kind: Kind | None,
    checks: Checks,
    underlying: str | None,
    adv_dollars: float | None,
) -> FileRead:
    if _is_json(path) and kind in (None, "chain", "gex"):
        if kind is None:
            guess_kind(path)  # refuses JSON that is not an option chain
        return _read_chain(path, checks, adv_dollars)
    text = read_text(path)  # JSON given as another kind is refused here, in one line
    what = kind or guess_kind(path, text)
    if what == "chain":
        return _read_chain(path, checks, adv_dollars)
    result = read_series(path, what, checks, text=text)
    frame = result.frame
    notes = list(result.notes) + [w.text for w in result.warnings]
    who: str | None = None
    if what == "prices":
        frame = frame[[c for c in _COLUMNS["prices"] if c in frame]]
    elif what == "dark_pool":
        frame = frame.rename(columns={"dark_pool": "ratio"})
        frame = frame[[c for c in _COLUMNS["dark_pool"] if c in frame]]
    else:
        frame = frame[[what]].rename(columns={what: VALUE_COLUMN[what]})
        if what == "gex":
            series = gex_file_series(text, path.name, checks.ticker, underlying)
            who = series.underlying
            if series.stand_in:
                notes.append(f"stored as the {series.label}, apart from {checks.ticker}'s own GEX")
    return FileRead(path=path, kind=what, frame=frame, underlying=who, notes=notes)


def _read_chain(path: Path, checks: Checks, adv_dollars: float | None) -> FileRead:
    from sources.providers.chain import read_chain_file
    from sources.update import snapshot_day

    snap = read_chain_file(path)
    day = snapshot_day(snap.as_of)
    limit = checks.latest_session
    if limit is not None and day > limit:
        raise InputDataError(
            f"{path.name}: the chain is stamped {snap.as_of:%Y-%m-%d %H:%M}, after the latest "
            f"completed NYSE session ({limit}); check its time stamp"
        )
    if snap.symbol.upper() != checks.ticker.upper():
        raise InputDataError(
            f"{path.name} is a {snap.symbol} option chain, not {checks.ticker}'s; its gamma "
            "cannot be stored as the ticker's own"
        )
    try:
        result = compute_gex(snap.contracts, snap.spot, snap.as_of, adv_dollars=adv_dollars)
    except ValueError as exc:
        raise InputDataError(f"{path.name}: the option chain cannot be used: {exc}") from exc
    frame = pd.DataFrame(
        {"net_gex": [result.net_gex]}, index=pd.DatetimeIndex([pd.Timestamp(day)], name="date")
    )
    return FileRead(
        path=path,
        kind="chain",
        frame=frame,
        underlying=checks.ticker,
        notes=[
            f"{checks.ticker} chain snapshot of {day} (chain as of {snap.as_of:%Y-%m-%d %H:%M})"
        ],
        snapshot=result,
        day=day,
    )


def _series_key(read: FileRead) -> tuple[str, str | None, str]:
    return (read.series, read.underlying, read.method)


def _check_overlaps(reads: list[FileRead]) -> None:
    """Two files of one command holding the same series on the same day are refused."""
    seen: dict[tuple[str, str | None, str], FileRead] = {}
    for read in reads:
        key = _series_key(read)
        other = seen.get(key)
        if other is not None:
            both = other.frame.index.intersection(read.frame.index)
            if len(both):
                raise InputDataError(
                    f"{other.path.name} and {read.path.name} both hold {read.series} for "
                    f"{both[0].date()}{f' and {len(both) - 1} more days' if len(both) > 1 else ''}"
                    "; import one of them"
                )
            merged = pd.concat([other.frame, read.frame]).sort_index()
            seen[key] = FileRead(other.path, other.kind, merged, other.underlying)
        else:
            seen[key] = read


def _stored(store: Store, read: FileRead, ticker: str) -> pd.DataFrame:
    frame = store.read(read.series, ticker)
    if read.series == "gex":
        frame = frame[
            (frame["underlying"] == (read.underlying or ticker)) & (frame["method"] == read.method)
        ]
    return frame


def differences(store: Store, reads: list[FileRead], ticker: str) -> list[Difference]:
    """Rows of each file that would change a stored row (columns the file has only)."""
    out: list[Difference] = []
    cache: dict[tuple[str, str | None, str], pd.DataFrame] = {}
    for read in reads:
        key = _series_key(read)
        if key not in cache:
            cache[key] = _stored(store, read, ticker)
        stored = cache[key]
        both = read.frame.index.intersection(stored.index)
        if not len(both):
            continue
        cols = [c for c in read.frame.columns if c in stored.columns]
        new = read.frame.loc[both, cols].to_numpy(dtype="float64")
        old = stored.loc[both, cols].to_numpy(dtype="float64")
        same = np.isclose(new, old, rtol=1e-9, atol=0.0) | (np.isnan(new) & np.isnan(old))
        differs = ~same.all(axis=1)
        if not differs.any():
            continue
        i = int(np.argmax(differs))
        j = int(np.argmax(~same[i]))
        day = both[i].date()
        example = f"{day} {cols[j]} {old[i, j]:,.6g} in the store, {new[i, j]:,.6g} in the file"
        out.append(Difference(read.path, read.series, [d.date() for d in both[differs]], example))
    return out


def import_files(
    store: Store,
    reads: list[FileRead],
    *,
    ticker: str,
    replace: bool = False,
    dry_run: bool = False,
) -> ImportResult:
    """Write every read file in one transaction, unless a file would change stored rows
    (refused without ``replace``: InputDataError summarising what would change)."""
    diffs = differences(store, reads, ticker)
    result = ImportResult(reads=reads, differences=diffs)
    if diffs and not replace:
        first = diffs[0].describe()
        more = f"; {len(diffs) - 1} more file(s) too" if len(diffs) > 1 else ""
        raise InputDataError(
            f"{first}{more}. Nothing was imported: run again with --replace to overwrite "
            "those rows (rows the files lack are kept), or --dry-run to list every change"
        )
    if dry_run:
        return result
    with store.batch():
        for read in reads:
            if read.kind == "chain" and read.snapshot is not None and read.day is not None:
                n = store.save_gex_snapshot(
                    read.day, read.snapshot, source=read.source, ticker=ticker
                )
            else:
                n = store.upsert(
                    read.series,
                    read.frame,
                    source=read.source,
                    ticker=ticker,
                    underlying=read.underlying,
                    method=read.method,
                    only_given=True,
                )
            result.changed[read.path.name] = n
    result.written = True
    log.info("import: %s file(s) written", len(reads))
    return result
