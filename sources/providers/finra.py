"""FINRA consolidated (CNMS) daily short-sale volume and the dark-pool buy/sell ratio.

One file per trading day, ``CNMSshvolYYYYMMDD.txt``: pipe-separated, CRLF line endings,
header ``Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market`` and a trailing
line holding the record count. For some dates the server answers an HTML error page
(sometimes with HTTP 200): that is detected and reported as a missing day, never parsed.

Ratio = ShortVolume / (TotalVolume - ShortVolume) (see DESIGN.md). Raw files are cached
under ``cache_dir`` so an interrupted backfill resumes without downloading them again.
"""

from __future__ import annotations

import datetime as dt
import logging
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


def parse_short_volume(text: str, symbol: str, what: str) -> ShortVolume | None:
    """The row of ``symbol`` in one CNMS file; None if the file has no such row.

    ProviderError when the text is HTML or does not have FINRA's header.
    """
    if looks_like_html(text):
        raise ProviderError(f"{what}: got an HTML page, not a FINRA short-volume file")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    header = tuple(c.strip() for c in lines[0].split("|")) if lines else ()
    if header[:5] != HEADER[:5]:
        raise ProviderError(f"{what}: not a FINRA short-volume file (header {lines[0][:80]!r})")
    wanted = symbol.upper()
    for line in lines[1:]:
        parts = line.split("|")
        if len(parts) < 5:
            continue  # the trailing record-count line, blank lines
        if parts[1].strip().upper() != wanted:
            continue
        try:
            day = dt.datetime.strptime(parts[0].strip(), "%Y%m%d").date()
            return ShortVolume(day, float(parts[2]), float(parts[3]), float(parts[4]))
        except ValueError as exc:
            raise ProviderError(f"{what}: unreadable row {line!r}") from exc
    return None


@dataclass
class BackfillResult:
    frame: pd.DataFrame  # indexed by date, DARK_POOL_COLUMNS
    downloaded: int = 0
    from_cache: int = 0
    missing: list[dt.date] = field(default_factory=list)  # no data file for these days


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
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".part")
            tmp.write_text(text, encoding="utf-8", newline="")
            tmp.replace(cached)  # atomic: a crash never leaves half a file in the cache
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
                row, cached = None, False
            else:
                if cached:
                    out.from_cache += 1
                else:
                    out.downloaded += 1
                if row is None:
                    out.missing.append(day)
            if row is not None:
                rows.append(row)
            if progress is not None:
                progress(i, len(days))
        out.frame = to_frame(rows)
        return out


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
