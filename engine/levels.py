"""The price levels that matter for the next session, from figures the state already has.

Levels: the ends of tomorrow's 68% and 90% ranges (:mod:`engine.volatility`), the
Bollinger bands, SMA20 and SMA50, and, when an option-chain snapshot of the as-of day
exists, the zero-gamma flip and the call and put walls. Each carries its distance from
the close as a fraction and in units of tomorrow's sigma (``log(price / close) /
sigma``), so "2 sigma away" reads the same on a calm and on a stormy day. Sorted from
the highest price to the lowest.
"""

from __future__ import annotations

import math

from engine.state import GexRegime, Indicators, KeyLevel, LevelKind, MoveRange

#: Decimals kept for prices (cents) and for distances.
PRICE_DECIMALS = 2
DISTANCE_DECIMALS = 4


def key_levels(
    close: float, tomorrow: MoveRange | None, indicators: Indicators, gex: GexRegime
) -> tuple[KeyLevel, ...]:
    """Tomorrow's key levels around ``close`` (USD, as traded), highest first."""
    # (name, kind, price, exact return to it or None): a range end's return is exact,
    # its price is rounded to cents, so the distance comes from the return
    candidates: list[tuple[str, LevelKind, float | None, float | None]] = []
    if tomorrow is not None:
        for band in sorted(tomorrow.bands, key=lambda b: -b.level):
            label = f"{band.level * 100:.0f}%"
            candidates.append((f"{label} high", "range", band.price_high, band.return_high))
            candidates.append((f"{label} low", "range", band.price_low, band.return_low))
    candidates += [
        ("BB upper", "bollinger", indicators.bb_upper, None),
        ("BB lower", "bollinger", indicators.bb_lower, None),
        ("SMA20", "average", indicators.sma20, None),
        ("SMA50", "average", indicators.sma50, None),
        ("GEX flip", "gamma", gex.flip_level, None),
        ("call wall", "gamma", gex.call_wall, None),
        ("put wall", "gamma", gex.put_wall, None),
    ]
    sigma = tomorrow.sigma if tomorrow is not None and tomorrow.sigma > 0 else None
    out = []
    for name, kind, price, ret in candidates:
        if price is None or not math.isfinite(price) or price <= 0 or close <= 0:
            continue
        distance = price / close - 1.0 if ret is None else ret
        out.append(
            KeyLevel(
                name=name,
                kind=kind,
                price=round(price, PRICE_DECIMALS),
                distance=round(distance, DISTANCE_DECIMALS),
                distance_sigma=None if sigma is None else round(math.log1p(distance) / sigma, 2),
            )
        )
    return tuple(sorted(out, key=lambda lv: -lv.price))
