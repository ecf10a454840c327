"""VIX daily closes: CBOE's VIX_History.csv first, Yahoo's ^VIX chart second.

CBOE's file is ``DATE,OPEN,HIGH,LOW,CLOSE`` with dates as MM/DD/YYYY; it also has rows
on US exchange holidays, which the frame builder drops by left-joining onto the price
calendar. Output: frame indexed by ``date`` with ``open, high, low, close`` (points).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass, field

import pandas as pd

from engine.errors import ProviderError
from sources.providers.http import HttpConfig, fetch, looks_like_html
from sources.providers.prices import YAHOO_CHART_URL, PriceProvider, parse_yahoo_chart

log = logging.getLogger(__name__)

CBOE_VIX_URL = "https://cdn.cboe.com/api/global/us_indices/daily_prices/VIX_History.csv"
VIX_COLUMNS = ("open", "high", "low", "close")


def parse_cboe_vix(text: str, what: str = "CBOE VIX history") -> pd.DataFrame:
    """CBOE ``VIX_History.csv`` text -> frame; HTML or wrong columns are ProviderError."""
    if looks_like_html(text):
        raise ProviderError(f"{what}: got an HTML page where a CSV was expected")
    try:
        raw = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ProviderError(f"{what}: unreadable CSV ({exc})") from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = {"date", *VIX_COLUMNS} - set(raw.columns)
    if missing:
        raise ProviderError(f"{what}: CSV lacks columns {sorted(missing)}; has {list(raw.columns)}")
    dates = pd.to_datetime(raw["date"], format="%m/%d/%Y", errors="coerce")
    df = raw[list(VIX_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    df.index = pd.DatetimeIndex(dates, name="date")
    df = df[df.index.notna() & df["close"].notna()]
    df = df[~df.index.duplicated(keep="last")].sort_index()
    if df.empty:
        raise ProviderError(f"{what}: the file holds no VIX rows")
    out: pd.DataFrame = df.astype("float64")
    return out


@dataclass(frozen=True)
class VixProvider:
    cboe_url: str = CBOE_VIX_URL
    yahoo_url: str = YAHOO_CHART_URL
    http: HttpConfig = field(default_factory=HttpConfig)
    name = "vix"

    def fetch(self, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, str]:
        errors: list[str] = []
        try:
            resp = fetch(self.cboe_url, what="CBOE VIX history", config=self.http)
            df, source = parse_cboe_vix(resp.text), "cboe"
        except ProviderError as exc:
            log.info("%s", exc)
            errors.append(str(exc))
            try:
                yahoo = PriceProvider(symbol="^VIX", yahoo_url=self.yahoo_url, http=self.http)
                df, source = yahoo.fetch_yahoo(start, end)[list(VIX_COLUMNS)], "yahoo"
            except ProviderError as exc2:
                errors.append(str(exc2))
                raise ProviderError("VIX: every source failed: " + "; ".join(errors)) from exc2
        window = (df.index >= pd.Timestamp(start)) & (df.index <= pd.Timestamp(end))
        return df[window], source


__all__ = ["VixProvider", "parse_cboe_vix", "parse_yahoo_chart"]
