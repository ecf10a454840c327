"""The formatters: one way to write each kind of figure, and one mark for "missing".

Inputs follow the engine's units: fractions for rates and returns (0.0267 is +2.67%),
USD for prices and dollar amounts, plain counts for sample sizes. Every function takes
``None`` (or a non-finite float) and returns :data:`NA`.
"""

from __future__ import annotations

import datetime as dt
import math

from engine.state import Interval

NA = "n/a"


def _ok(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def pct(x: float | None, digits: int = 0) -> str:
    """A fraction as a percentage: 0.5612 -> '56%'."""
    return f"{x * 100:.{digits}f}%" if _ok(x) else NA  # type: ignore[operator]


def signed_pct(x: float | None, digits: int = 2) -> str:
    """A fraction as a signed percentage (a return): 0.0065 -> '+0.65%'."""
    return f"{x * 100:+.{digits}f}%" if _ok(x) else NA  # type: ignore[operator]


def pp(x: float | None, digits: int = 1) -> str:
    """A difference of two fractions in percentage points: 0.031 -> '+3.1pp'."""
    return f"{x * 100:+.{digits}f}pp" if _ok(x) else NA  # type: ignore[operator]


def signed_num(x: float | None, digits: int = 2) -> str:
    """A signed plain number such as a score difference: 1.1e-05 -> '+0.000011' (6)."""
    return f"{x:+,.{digits}f}" if _ok(x) else NA


def num(x: float | None, digits: int = 2) -> str:
    """A plain number such as a price or an index level: 229.1787 -> '229.18'."""
    return f"{x:,.{digits}f}" if _ok(x) else NA


def usd(x: float | None) -> str:
    """Dollars, compact: -1.234e9 -> '-$1.23B', 40146 -> '$40.15K', 512 -> '$512'.

    Used for dealer gamma exposure (USD per 1% move) and dollar volumes, so a small
    chain never rounds to zero.
    """
    if not _ok(x):
        return NA
    value = float(x)  # type: ignore[arg-type]
    sign = "-" if value < 0 else ""
    a = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= scale:
            return f"{sign}${a / scale:.2f}{suffix}"
    return f"{sign}${a:.0f}"


def pct_interval(ci: Interval | None) -> str:
    """A win-rate interval: '46-75%'."""
    if ci is None:
        return NA
    return f"{ci.low * 100:.0f}-{ci.high * 100:.0f}%"


def return_interval(ci: Interval | None, digits: int = 2) -> str:
    """A return interval: '-0.12% to +0.80%'."""
    if ci is None:
        return NA
    return f"{signed_pct(ci.low, digits)} to {signed_pct(ci.high, digits)}"


def count(n: int | None) -> str:
    """A count with thousands separators: 12345 -> '12,345'."""
    return NA if n is None else f"{n:,}"


def p_value(p: float | None) -> str:
    """A p- or q-value: '<0.001' below a thousandth, else three decimals."""
    if not _ok(p):
        return NA
    return "<0.001" if p < 0.001 else f"{p:.3f}"  # type: ignore[operator]


def day(d: dt.date | None) -> str:
    """A trading date, ISO: '2024-08-05'."""
    return NA if d is None else d.isoformat()


def level(x: float | None) -> str:
    """A price level such as a strike or a flip point: 300 -> '300', 302.6 -> '302.60'."""
    if not _ok(x):
        return NA
    value = float(x)  # type: ignore[arg-type]
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
