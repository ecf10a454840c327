"""A loaded data set: the canonical daily frame plus where each series came from.

:func:`assemble` is the one place where prices and auxiliary series are joined, so the
CSV importer, the SQLite store and the demo generator all produce identical frames.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from engine.errors import InputDataError, InsufficientHistoryError
from engine.frame import COLUMNS
from engine.state import SeriesProvenance

#: Rows the indicators need before the rules can be evaluated: SMA50 needs 50 closes and
#: the MACD histogram 34; a few more give the trend label its SMA20 slope.
MIN_ROWS: Final = 60


@dataclass(frozen=True)
class Dataset:
    """A canonical daily frame (:mod:`engine.frame`) with where each series came from."""

    frame: pd.DataFrame
    provenance: tuple[SeriesProvenance, ...]
    warnings: tuple[str, ...] = ()
    #: Optional per-day gamma levels from option-chain snapshots: a date-indexed frame
    #: with ``flip_level``, ``call_wall``, ``put_wall`` (USD) and ``as_of`` (ISO time).
    gex_levels: pd.DataFrame | None = None


def _provenance(
    series: Literal["prices", "vix", "gex", "dark_pool"],
    values: pd.Series | None,
    source: str,
    *,
    note: str | None = None,
    synthetic: bool = False,
) -> SeriesProvenance:
    if values is None or values.dropna().empty:
        return SeriesProvenance(series=series, source="not provided", rows=0, note=note)
    real = values.dropna()
    return SeriesProvenance(
        series=series,
        source=source,
        first_date=real.index[0].date(),
        last_date=real.index[-1].date(),
        rows=int(real.size),
        synthetic=synthetic,
        note=note,
    )


def assemble(
    prices: pd.DataFrame,
    aux: Mapping[str, pd.Series],
    sources: Mapping[str, str],
    *,
    notes: Mapping[str, str] | None = None,
    synthetic: bool = False,
    ffill_limit: int = 3,
) -> Dataset:
    """Join price rows and auxiliary series into a :class:`Dataset`.

    ``prices`` has a DatetimeIndex and at least ``close``; ``aux`` maps ``vix``, ``gex``
    and ``dp_ratio`` to date-indexed series. Aux series are reindexed onto the price
    calendar and forward-filled at most ``ffill_limit`` rows; each fill and each longer
    gap becomes a warning. ``sources``/``notes`` are keyed by provenance series name.
    """
    if prices.empty:
        raise InputDataError("the price data has no rows")
    if len(prices) < MIN_ROWS:
        raise InsufficientHistoryError(
            f"the price data has {len(prices)} rows; the indicators need at least "
            f"{MIN_ROWS} trading days (SMA50 and the MACD signal line)"
        )
    frame = pd.DataFrame(index=pd.DatetimeIndex(prices.index, name="date"))
    for col in ("open", "high", "low", "close"):
        frame[col] = prices[col].astype("float64") if col in prices else prices["close"]
    if "adj_close" in prices and prices["adj_close"].notna().all():
        frame["adj_close"] = prices["adj_close"].astype("float64")
    else:
        frame["adj_close"] = frame["close"]
    frame["volume"] = prices["volume"].astype("float64") if "volume" in prices else np.nan
    warnings: list[str] = []
    notes = notes or {}
    names = {"vix": "vix", "gex": "gex", "dp_ratio": "dark_pool"}
    prov: list[SeriesProvenance] = [
        _provenance("prices", frame["close"], sources.get("prices", "?"), synthetic=synthetic)
    ]
    for col, series_name in names.items():
        series = aux.get(col)
        if series is None and col in prices:
            series = prices[col]
        if series is None or series.dropna().empty:
            frame[col] = np.nan
            prov.append(_provenance(series_name, None, "", note=notes.get(series_name)))  # type: ignore[arg-type]
            continue
        real = series.astype("float64").reindex(frame.index)
        filled = real.ffill(limit=ffill_limit)
        start = series.dropna().index[0]
        in_span = frame.index >= start
        fills = frame.index[in_span & real.isna().to_numpy() & filled.notna().to_numpy()]
        gaps = frame.index[in_span & filled.isna().to_numpy()]
        if len(fills):
            warnings.append(
                f"{series_name}: {len(fills)} missing day(s) carried forward from the day "
                f"before (at most {ffill_limit}), e.g. {fills[-1].date()}"
            )
        if len(gaps):
            warnings.append(
                f"{series_name}: {len(gaps)} day(s) with no value even after carrying "
                f"forward {ffill_limit} days, latest {gaps[-1].date()}"
            )
        frame[col] = filled
        prov.append(
            _provenance(
                series_name,  # type: ignore[arg-type]
                real,
                sources.get(series_name, "?"),
                note=notes.get(series_name),
                synthetic=synthetic,
            )
        )
    return Dataset(frame=frame[list(COLUMNS)], provenance=tuple(prov), warnings=tuple(warnings))
