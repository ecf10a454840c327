"""IWM daily prices: Yahoo's chart API (raw and adjusted close), Stooq's CSV as fallback.

Both return a frame indexed by ``date`` (exchange-local trading dates) with ``open``,
``high``, ``low``, ``close`` (as traded, split-adjusted), ``adj_close`` and ``volume``.
Stooq has no separate adjusted close, so there ``adj_close`` equals ``close``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ProviderError
from sources.providers.http import HttpConfig, fetch, looks_like_html

log = logging.getLogger(__name__)

YAHOO_CHART_URL = "https://query1.finance.yahoo.com/v8/finance/chart/{symbol}"
STOOQ_URL = "https://stooq.com/q/d/l/?s={symbol}&i=d"
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")


def parse_yahoo_chart(text: str, what: str) -> pd.DataFrame:
    """Yahoo v8 chart JSON -> daily frame; timestamps converted in the exchange's zone."""
    if looks_like_html(text):
        raise ProviderError(f"{what}: got an HTML page, not chart JSON")
    try:
        payload = json.loads(text)
        chart = payload["chart"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ProviderError(f"{what}: not Yahoo chart JSON ({exc})") from exc
    if chart.get("error"):
        raise ProviderError(f"{what}: Yahoo answered an error: {chart['error']}")
    try:
        result: dict[str, Any] = chart["result"][0]
        stamps = result.get("timestamp") or []
        quote = result["indicators"]["quote"][0]
    except (KeyError, IndexError, TypeError) as exc:
        raise ProviderError(f"{what}: Yahoo chart JSON without prices ({exc})") from exc
    tz = result.get("meta", {}).get("exchangeTimezoneName") or "America/New_York"
    dates = pd.to_datetime(stamps, unit="s", utc=True).tz_convert(tz).tz_localize(None).normalize()
    df = pd.DataFrame(
        {c: pd.to_numeric(pd.Series(quote.get(c)), errors="coerce") for c in PRICE_COLUMNS[:4]}
        | {"volume": pd.to_numeric(pd.Series(quote.get("volume")), errors="coerce")},
    )
    df.index = pd.DatetimeIndex(dates, name="date")
    adj = (result["indicators"].get("adjclose") or [{}])[0].get("adjclose")
    df["adj_close"] = (
        pd.to_numeric(pd.Series(adj, index=df.index), errors="coerce") if adj else df["close"]
    )
    return _tidy(df, what)


def parse_stooq_csv(text: str, what: str) -> pd.DataFrame:
    """Stooq daily CSV (Date,Open,High,Low,Close,Volume) -> daily frame."""
    if looks_like_html(text):
        raise ProviderError(f"{what}: got an HTML page where a CSV was expected")
    if not text.strip() or text.strip().lower().startswith("no data"):
        raise ProviderError(f"{what}: Stooq returned no data")
    try:
        raw = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, ValueError) as exc:
        raise ProviderError(f"{what}: unreadable CSV ({exc})") from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = {"date", "open", "high", "low", "close"} - set(raw.columns)
    if missing:
        raise ProviderError(f"{what}: CSV lacks columns {sorted(missing)}; has {list(raw.columns)}")
    df = raw.set_index(pd.DatetimeIndex(pd.to_datetime(raw["date"], errors="coerce"), name="date"))
    df = df[["open", "high", "low", "close"] + (["volume"] if "volume" in df else [])]
    df = df.apply(pd.to_numeric, errors="coerce")
    if "volume" not in df:
        df["volume"] = np.nan
    df["adj_close"] = df["close"]
    return _tidy(df, what)


def _tidy(df: pd.DataFrame, what: str) -> pd.DataFrame:
    keep = df["close"].notna().to_numpy() & (df["close"] > 0).to_numpy() & df.index.notna()
    df = df[keep]
    df = df[~df.index.duplicated(keep="last")].sort_index()
    if df.empty:
        raise ProviderError(f"{what}: the response holds no daily prices")
    return df[list(PRICE_COLUMNS)].astype("float64")


@dataclass(frozen=True)
class PriceProvider:
    """Yahoo first, Stooq second; ``fetch(start, end)`` returns the daily frame."""

    symbol: str = "IWM"
    yahoo_url: str = YAHOO_CHART_URL
    stooq_url: str = STOOQ_URL
    http: HttpConfig = field(default_factory=HttpConfig)
    name = "prices"

    def fetch(self, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, str]:
        """Bars from ``start`` to ``end`` inclusive and the name of the source used."""
        errors: list[str] = []
        try:
            return self._window(self.fetch_yahoo(start, end), start, end), "yahoo"
        except ProviderError as exc:
            log.info("%s", exc)
            errors.append(str(exc))
        try:
            return self._window(self.fetch_stooq(), start, end), "stooq"
        except ProviderError as exc:
            errors.append(str(exc))
        raise ProviderError(f"{self.symbol} prices: every source failed: " + "; ".join(errors))

    @staticmethod
    def _window(df: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
        return df[(df.index >= pd.Timestamp(start)) & (df.index <= pd.Timestamp(end))]

    def fetch_yahoo(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        what = f"{self.symbol} prices from Yahoo"
        p1 = int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp())
        p2 = int(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp())
        params = {
            "period1": str(p1),
            "period2": str(p2),
            "interval": "1d",
            "events": "div,split",
            "includeAdjustedClose": "true",
        }
        url = self.yahoo_url.format(symbol=self.symbol)
        return parse_yahoo_chart(fetch(url, what=what, config=self.http, params=params).text, what)

    def fetch_stooq(self) -> pd.DataFrame:
        what = f"{self.symbol} prices from Stooq"
        url = self.stooq_url.format(symbol=f"{self.symbol.lower()}.us")
        return parse_stooq_csv(fetch(url, what=what, config=self.http).text, what)
