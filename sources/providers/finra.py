"""FINRA consolidated (CNMS) daily short-sale volume and the dark-pool buy/sell ratio.

One file per trading day, ``CNMSshvolYYYYMMDD.txt``: pipe-separated, CRLF line endings,
header ``Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market`` and a trailing
line holding the record count. For some dates the server answers an HTML error page
(sometimes with HTTP 200): that is detected and reported as a missing day, never parsed.

Ratio = ShortVolume / (TotalVolume - ShortVolume) (see DESIGN.md). Raw files are cached
under ``cache_dir`` so an interrupted backfill resumes without downloading them again;
each is written under a unique temporary name in the same folder and renamed into place,
so two runs at once never see (or delete) each other's half-written files.

Only a day's file that is real data is cached: an HTML page, an empty reply or a file
whose row for the symbol is impossible (ShortVolume above TotalVolume, a negative or
unreadable number) is *missing* for that day, with its reason, and is asked for again
on a later run (:mod:`sources.update` keeps the list); one bad day never stops the rest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd

from engine.errors import ProviderError
from sources.providers.http import (
    HttpConfig,
    SourceUnavailable,
    fetch,
    looks_like_html,
    make_client,
)

log = logging.getLogger(__name__)

FINRA_URL = "https://cdn.finra.org/equity/regsho/daily/CNMSshvol{ymd}.txt"
HEADER = ("Date", "Symbol", "ShortVolume", "ShortExemptVolume", "TotalVolume", "Market")
DARK_POOL_COLUMNS = ("short_volume", "short_exempt_volume", "total_volume", "ratio")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ShortVolume:
    day: dt.date
    short_volume: float
    short_exempt_volume: float
    total_volume: float

    @property
    def ratio(self) -> float:
        """ShortVolume / (TotalVolume - ShortVolume); NaN when nothing was not short."""
        rest = self.total_volume - self.short_volume
        return self.short_volume / rest if rest > 0 else float("nan")


class BadRow(ProviderError):
    """The file is FINRA's, but its row for the symbol cannot be used."""


def parse_short_volume(text: str, symbol: str, what: str) -> ShortVolume | None:
    """The row of ``symbol`` in one CNMS file; None if the file has no such row.

    ProviderError when the text is empty, HTML or does not have FINRA's header;
    :class:`BadRow` (naming the line) when the symbol's row is unreadable or impossible:
    a volume that is not a finite number >= 0, or ShortVolume above TotalVolume.
    """
    if not text.strip():
        raise ProviderError(f"{what}: got an empty reply, not a FINRA short-volume file")
    if looks_like_html(text):
        raise ProviderError(f"{what}: got an HTML page, not a FINRA short-volume file")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    header = tuple(c.strip() for c in lines[0].split("|")) if lines else ()
    if header[:5] != HEADER[:5]:
        raise ProviderError(f"{what}: not a FINRA short-volume file (header {lines[0][:80]!r})")
    wanted = symbol.upper()
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split("|")
        if len(parts) < 5:
            continue  # the trailing record-count line, blank lines
        if parts[1].strip().upper() != wanted:
            continue
        try:
            day = dt.datetime.strptime(parts[0].strip(), "%Y%m%d").date()
            row = ShortVolume(day, float(parts[2]), float(parts[3]), float(parts[4]))
        except ValueError as exc:
            raise BadRow(f"{what}: line {number}: unreadable {wanted} row {line[:120]!r}") from exc
        volumes = (row.short_volume, row.short_exempt_volume, row.total_volume)
        if not all(math.isfinite(v) and v >= 0 for v in volumes):
            raise BadRow(f"{what}: line {number}: {wanted} volumes must be numbers >= 0")
        if row.short_volume > row.total_volume:
            raise BadRow(
                f"{what}: line {number}: {wanted} ShortVolume {row.short_volume:,.0f} exceeds "
                f"TotalVolume {row.total_volume:,.0f}"
            )
        return row
    return None


@dataclass
class BackfillResult:
    frame: pd.DataFrame  # indexed by date, DARK_POOL_COLUMNS
    downloaded: int = 0
    from_cache: int = 0
    missing: list[dt.date] = field(default_factory=list)  # no usable data for these days
    reasons: dict[dt.date, str] = field(default_factory=dict)  # why, per missing day


@dataclass(frozen=True)
class FinraProvider:
    symbol: str = "IWM"
    url_template: str = FINRA_URL
    cache_dir: Path | None = None
    http: HttpConfig = field(default_factory=HttpConfig)
    name = "dark_pool"

    def _cache_path(self, day: dt.date) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"CNMSshvol{day:%Y%m%d}.txt"

    def day_text(self, day: dt.date, client: httpx.Client | None = None) -> tuple[str, bool]:
        """The raw file of ``day`` and whether it came from the cache."""
        cached = self._cache_path(day)
        if cached is not None and cached.is_file():
            return cached.read_text(encoding="utf-8", errors="replace"), True
        url = self.url_template.format(ymd=f"{day:%Y%m%d}")
        text = fetch(url, what=f"FINRA short volume {day}", config=self.http, client=client).text
        what = f"FINRA short volume {day}"
        parse_short_volume(text, self.symbol, what)  # refuse HTML/garbage before caching
        if cached is not None:
            _write_atomically(cached, text)
        return text, False

    def fetch_days(
        self, days: Sequence[dt.date], progress: Progress | None = None
    ) -> BackfillResult:
        """Short volume for each trading day in ``days``; days without data are listed.

        A day whose file is missing or an HTML error page is skipped (``missing``); a
        transport failure that outlives the retries stops the backfill with
        ProviderError, keeping the files cached so far.
        """
        with make_client(self.http) as client:
            return self._fetch_days(days, client, progress)

    def _fetch_days(
        self, days: Sequence[dt.date], client: httpx.Client, progress: Progress | None
    ) -> BackfillResult:
        rows: list[ShortVolume] = []
        out = BackfillResult(frame=pd.DataFrame())
        for i, day in enumerate(days, start=1):
            what = f"FINRA short volume {day}"
            try:
                text, cached = self.day_text(day, client)
                row = parse_short_volume(text, self.symbol, what)
            except SourceUnavailable:
                raise
            except ProviderError as exc:
                log.info("%s", exc)
                out.missing.append(day)
                out.reasons[day] = _reason(exc)
                row, cached = None, False
            else:
                if cached:
                    out.from_cache += 1
                else:
                    out.downloaded += 1
                if row is None:
                    out.missing.append(day)
                    out.reasons[day] = f"no {self.symbol} row"
            if row is not None:
                rows.append(row)
            if progress is not None:
                progress(i, len(days))
        out.frame = to_frame(rows)
        return out


def _reason(exc: ProviderError) -> str:
    """A missing day's reason in a few words, for the update's note."""
    if isinstance(exc, BadRow):
        return "bad row"
    text = str(exc)
    if "HTML" in text:
        return "HTML page"
    if "empty reply" in text:
        return "empty reply"
    if "HTTP 404" in text:
        return "not posted"
    return "unreadable"


def _write_atomically(path: Path, text: str) -> None:
    """Write ``path`` through a uniquely named temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)  # atomic: readers see the whole file or none
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def to_frame(rows: Sequence[ShortVolume]) -> pd.DataFrame:
    idx = pd.DatetimeIndex([pd.Timestamp(r.day) for r in rows], name="date")
    return pd.DataFrame(
        {
            "short_volume": [r.short_volume for r in rows],
            "short_exempt_volume": [r.short_exempt_volume for r in rows],
            "total_volume": [r.total_volume for r in rows],
            "ratio": [r.ratio for r in rows],
        },
        index=idx,
        dtype="float64",
    )
