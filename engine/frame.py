"""The canonical daily frame every part of the engine consumes.

A *daily frame* is a ``pandas.DataFrame`` with

* a tz-naive ``DatetimeIndex`` named ``date``: one row per trading day of the price
  series, sorted ascending, unique, normalised to midnight (exchange-local dates);
* the columns in :data:`COLUMNS`, all ``float64``. Optional series that a user does not
  have are present and entirely ``NaN``:

  ========== =========================================================================
  open..close as-traded (split-adjusted, not dividend-adjusted) prices, USD per share
  adj_close  split- and dividend-adjusted close, USD; equals ``close`` when unknown
  volume     shares traded; ``NaN`` when unknown
  vix        CBOE VIX close, index points (annualised implied vol in %)
  gex        dealer gamma exposure, USD of delta per 1% move of the underlying
  dp_ratio   dark-pool buy/sell ratio = ShortVolume / (TotalVolume - ShortVolume)
  ========== =========================================================================

Auxiliary series are left-joined onto the price calendar, so a VIX print on an
exchange holiday never creates a row.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

PRICE_COLUMNS: Final = ("open", "high", "low", "close")
SERIES_COLUMNS: Final = ("vix", "gex", "dp_ratio")
COLUMNS: Final = (*PRICE_COLUMNS, "adj_close", "volume", *SERIES_COLUMNS)


def empty_frame() -> pd.DataFrame:
    """A daily frame with no rows and every canonical column."""
    idx = pd.DatetimeIndex([], name="date")
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in COLUMNS}, index=idx)
