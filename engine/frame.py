"""The canonical daily frame every part of the engine consumes, and its series.

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
  dark_pool  dark-pool buy/sell ratio = ShortVolume / (TotalVolume - ShortVolume)
  ========== =========================================================================

The four input *series* are named by :data:`engine.series.Series`; each auxiliary
series' frame column carries the series' own name, so no code maps one name to another.
Auxiliary series are left-joined onto the price calendar, so a VIX print on an
exchange holiday never creates a row.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import pandas as pd

from engine.series import AUX_SERIES, SERIES, AuxSeries, Series

__all__ = ["AUX_SERIES", "COLUMNS", "PRICE_COLUMNS", "SERIES", "AuxSeries", "Series", "as_of_row"]

PRICE_COLUMNS: Final = ("open", "high", "low", "close")
COLUMNS: Final = (*PRICE_COLUMNS, "adj_close", "volume", *AUX_SERIES)


def as_of_row(index: pd.DatetimeIndex, as_of: dt.date | None) -> int:
    """Row of the last trading day on or before ``as_of`` (the last row when None).

    -1 when ``as_of`` is before the first row. The one way every module finds the
    as-of row, so a state, an audit and a walk-forward agree on which day "as of" means.
    """
    if as_of is None:
        return len(index) - 1
    return int(index.searchsorted(pd.Timestamp(as_of), side="right")) - 1
