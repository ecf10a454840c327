"""Forward returns, the raw material of every measured edge.

``r_h(t) = adj_close(t + h) / adj_close(t) - 1`` (a fraction), for the horizons in
:data:`HORIZONS`; ``NaN`` where the window runs past the data. A statistic for a state on
day ``T`` may only use rows with ``t + h <= T``: :mod:`engine.audit` enforces that cut,
so rows after ``T`` never influence day ``T``'s figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

HORIZONS: tuple[int, ...] = (1, 5)


def forward_returns(frame: pd.DataFrame, horizons: Sequence[int] = HORIZONS) -> pd.DataFrame:
    """Columns ``r1``, ``r5``, ...: forward returns on ``adj_close`` (fractions)."""
    price = frame["adj_close"].astype("float64")
    return pd.DataFrame(
        {f"r{h}": price.shift(-h) / price - 1.0 for h in horizons}, index=frame.index
    )
