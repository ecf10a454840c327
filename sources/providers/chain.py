"""IWM option chain: CBOE delayed-quotes JSON by default, a repackaged file or URL second.

Two layouts are understood:

* CBOE's own ``{"timestamp": "YYYY-MM-DD HH:MM:SS", "data": {"current_price": ...,
  "options": [{"option": "IWM260713C00215000", "open_interest": ..., "iv": ...,
  "gamma": ...}, ...]}}``. The OCC symbol carries root, expiry (YYMMDD), side (C/P) and
  strike x 1000 (8 digits); CBOE's timestamp is US/Eastern wall time.
* The repackaged layout (``symbol, updated, underlyingPrice, quotes: [{expiration, side,
  strike, openInterest, iv, gamma}, ...]``) used by the real snapshot in shared/data.

Either way the result is a :class:`ChainSnapshot` whose ``contracts`` frame is what
:func:`engine.gex.compute_gex` takes; missing gamma stays NaN (the engine computes
Black-Scholes gamma from iv).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import InputDataError, ProviderError
from engine.gex import EXCHANGE_TZ
from sources.providers.http import HttpConfig, fetch, looks_like_html
from sources.urls import public_url, redact_urls

log = logging.getLogger(__name__)

#: Largest chain file read (bytes); a full IWM chain is about 1-3 MB.
MAX_CHAIN_BYTES = 200_000_000
CBOE_CHAIN_URL = "https://cdn.cboe.com/api/global/delayed_quotes/options/{symbol}.json"
_OCC = re.compile(r"^(?P<root>[A-Z.]{1,6})(?P<ymd>\d{6})(?P<cp>[CP])(?P<strike>\d{8})$")


@dataclass(frozen=True)
class ChainSnapshot:
    """One chain snapshot: the underlying's spot (USD), the chain's own as-of time."""

    symbol: str
    as_of: dt.datetime  # tz-aware, the chain's own time stamp
    spot: float
    contracts: pd.DataFrame  # expiration, side, strike, open_interest, iv, gamma
    source: str


def parse_occ(symbol: str) -> tuple[str, dt.date, str, float]:
    """``IWM260713C00215000`` -> ("IWM", 2026-07-13, "call", 215.0)."""
    m = _OCC.match(symbol.strip().replace(" ", ""))
    if not m:
        raise ValueError(f"not an OCC option symbol: {symbol!r}")
    ymd = m["ymd"]
    expiry = dt.date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
    side = "call" if m["cp"] == "C" else "put"
    return m["root"], expiry, side, int(m["strike"]) / 1000.0


def _num(value: Any) -> float:
    try:
        return float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _parse_time(text: Any, what: str) -> dt.datetime:
    if not text:
        raise ProviderError(f"{what}: the chain has no time stamp")
    try:
        ts = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ProviderError(f"{what}: unreadable time stamp {text!r}") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=EXCHANGE_TZ)


def _frame(rows: list[dict[str, Any]], what: str) -> pd.DataFrame:
    if not rows:
        raise ProviderError(f"{what}: the chain holds no option contracts")
    df = pd.DataFrame(rows)
    df["expiration"] = pd.to_datetime(df["expiration"]).dt.normalize()
    for col in ("strike", "open_interest", "iv", "gamma"):
        df[col] = df[col].astype("float64")
    df.loc[~(df["gamma"] >= 0), "gamma"] = np.nan
    return df[["expiration", "side", "strike", "open_interest", "iv", "gamma"]]


def parse_chain(payload: Any, source: str) -> ChainSnapshot:
    """Parse either layout from already-decoded JSON; ProviderError if neither fits."""
    what = f"option chain from {source}"
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        return _parse_cboe(payload, source, what)
    if isinstance(payload, dict) and isinstance(payload.get("quotes"), list):
        return _parse_repackaged(payload, source, what)
    keys = list(payload)[:8] if isinstance(payload, dict) else type(payload).__name__
    raise ProviderError(
        f"{what}: not a CBOE delayed-quotes chain nor the repackaged layout (top level: {keys})"
    )


def _parse_cboe(payload: dict[str, Any], source: str, what: str) -> ChainSnapshot:
    data = payload["data"]
    options = data.get("options")
    if not isinstance(options, list):
        raise ProviderError(f"{what}: 'data.options' is missing")
    rows: list[dict[str, Any]] = []
    skipped = 0
    root = str(data.get("symbol") or "").lstrip("_")
    for opt in options:
        try:
            occ_root, expiry, side, strike = parse_occ(str(opt.get("option", "")))
        except ValueError:
            skipped += 1
            continue
        root = root or occ_root
        rows.append(
            {
                "expiration": expiry,
                "side": side,
                "strike": strike,
                "open_interest": _num(opt.get("open_interest")),
                "iv": _num(opt.get("iv")),
                "gamma": _num(opt.get("gamma")),
            }
        )
    if skipped:
        log.warning("%s: skipped %s rows without an OCC symbol", what, skipped)
    spot = _num(data.get("current_price") or data.get("close"))
    if not spot > 0:
        raise ProviderError(f"{what}: no underlying price ('data.current_price')")
    as_of = _parse_time(payload.get("timestamp") or data.get("last_trade_time"), what)
    return ChainSnapshot(root or "IWM", as_of, spot, _frame(rows, what), source)


def _parse_repackaged(payload: dict[str, Any], source: str, what: str) -> ChainSnapshot:
    rows = [
        {
            "expiration": q.get("expiration"),
            "side": str(q.get("side", "")).lower(),
            "strike": _num(q.get("strike")),
            "open_interest": _num(q.get("openInterest")),
            "iv": _num(q.get("iv")),
            "gamma": _num(q.get("gamma")),
        }
        for q in payload["quotes"]
        if str(q.get("side", "")).lower() in ("call", "put") and q.get("expiration")
    ]
    spot = _num(payload.get("underlyingPrice"))
    if not spot > 0:
        raise ProviderError(f"{what}: no underlying price ('underlyingPrice')")
    as_of = _parse_time(payload.get("updated"), what)
    return ChainSnapshot(
        str(payload.get("symbol") or "IWM"), as_of, spot, _frame(rows, what), source
    )


def decode(text: str, source: str) -> ChainSnapshot:
    """Decode a JSON body, refusing HTML or other non-JSON error payloads clearly."""
    if looks_like_html(text):
        raise ProviderError(f"option chain from {source}: got an HTML page, not JSON")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProviderError(
            f"option chain from {source}: not valid JSON ({exc.msg} at char {exc.pos})"
        ) from exc
    return parse_chain(payload, source)


def read_chain_file(path: Path) -> ChainSnapshot:
    """A chain saved on disk, in either layout; bad files are InputDataError."""
    try:
        if Path(path).stat().st_size > MAX_CHAIN_BYTES:
            raise InputDataError(
                f"{Path(path).name} is over {MAX_CHAIN_BYTES // 1_000_000} MB; not a chain file"
            )
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputDataError(f"cannot read the option chain file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{Path(path).name} is not UTF-8 JSON (binary?)") from exc
    try:
        return decode(text, Path(path).name)
    except ProviderError as exc:
        raise InputDataError(str(exc)) from exc


@dataclass(frozen=True)
class ChainProvider:
    """CBOE first; ``fallback_url`` (either layout, http(s) or a file path) second."""

    url: str = CBOE_CHAIN_URL
    fallback_url: str | None = None
    symbol: str = "IWM"
    http: HttpConfig = field(default_factory=HttpConfig)

    name = "cboe-chain"

    def fetch(self) -> ChainSnapshot:
        errors: list[str] = []
        for url in (self.url.format(symbol=self.symbol), self.fallback_url):
            if not url:
                continue
            try:
                if "://" not in url or url.startswith("file://"):
                    return read_chain_file(Path(url.removeprefix("file://")))
                resp = fetch(url, what=f"{self.symbol} option chain", config=self.http)
                return decode(resp.text, public_url(url))
            except (ProviderError, InputDataError) as exc:
                log.info("chain source failed: %s", redact_urls(str(exc)))
                errors.append(redact_urls(str(exc)))
        hint = "" if self.fallback_url else " (set IWM_CHAIN_FALLBACK_URL for a second source)"
        raise ProviderError("; ".join(errors) + hint)
