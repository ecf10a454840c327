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

A frame may also carry a *series id* column per auxiliary series, ``<series>_series``
(today only ``gex_series``): a float code, the same on every day whose value comes from
the same underlying and method (``Dataset.gex_series`` names each code), NaN where the
series has no value. A change of code is a break: the series before and after are
different measurements, so nothing compares a day with the day before across it
(:func:`previous_in_series`). A frame without the column is one series throughout.

The four input *series* are named by :data:`engine.series.Series`; each auxiliary
series' frame column carries the series' own name, so no code maps one name to another.
Auxiliary series are left-joined onto the price calendar, so a VIX print on an
exchange holiday never creates a row.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.series import AUX_SERIES, SERIES, AuxSeries, Series

__all__ = [
    "AUX_SERIES",
    "COLUMNS",
    "PRICE_COLUMNS",
    "SERIES",
    "AuxSeries",
    "Series",
    "as_of_row",
    "previous_in_series",
    "series_id_column",
]

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


def series_id_column(series: str) -> str:
    """The name of ``series``' id column (``gex`` -> ``gex_series``)."""
    return f"{series}_series"


def previous_in_series(
    frame: pd.DataFrame, column: str, series: str | None
) -> npt.NDArray[np.float64]:
    """``column`` on the previous row, NaN on the first row and across a series break.

    ``series`` is the auxiliary series ``column`` is made from (None for price columns);
    where the frame has that series' id column and the id differs from the previous
    row's, the previous value belongs to another series and is not returned.
    """
    values = frame[column].to_numpy(dtype=np.float64)
    prev = np.empty_like(values)
    prev[0:1] = np.nan
    prev[1:] = values[:-1]
    id_col = series_id_column(series) if series is not None else None
    if id_col is not None and id_col in frame.columns:
        ids = frame[id_col].to_numpy(dtype=np.float64)
        same = np.zeros(len(ids), dtype=bool)
        same[1:] = ids[1:] == ids[:-1]
        prev[~same] = np.nan
    return prev
