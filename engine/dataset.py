"""A loaded data set: the canonical daily frame plus where each series came from.

:func:`assemble` is the one place where prices and auxiliary series are joined, so the
CSV importer, the SQLite store and the demo generator all produce identical frames.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.errors import InputDataError, InsufficientHistoryError
from engine.frame import COLUMNS, PRICE_COLUMNS, series_id_column
from engine.series import AUX_SERIES, Series
from engine.state import DataWarning, SeriesProvenance, WarningCode

#: Rows the indicators need before the rules can be evaluated: SMA50 needs 50 closes and
#: the MACD histogram 34; a few more give the trend label its SMA20 slope.
MIN_ROWS: Final = 60


#: How a GEX value was made: computed here from an option chain snapshot, or a daily
#: history imported from a file (someone else's method).
GexMethod = Literal["chain", "history"]


@dataclass(frozen=True)
class GexSeries:
    """One GEX series: whose gamma it is and how it was made (USD per 1% move).

    Values of different series are different measurements (IWM's own gamma is not the
    S&P 500's; a chain snapshot is not another vendor's history), so a daily frame marks
    each day's series (``gex_series``) and nothing reads a flip across a change.
    """

    underlying: str
    method: GexMethod
    source: str
    stand_in: bool = False  # another underlying's gamma standing in for the ticker's
    note: str | None = None

    @property
    def label(self) -> str:
        """'IWM chain snapshot', 'IWM imported history' or 'SPX stand-in'."""
        if self.stand_in:
            return f"{self.underlying} stand-in"
        how = "chain snapshot" if self.method == "chain" else "imported history"
        return f"{self.underlying} {how}"


@dataclass(frozen=True)
class Dataset:
    """A canonical daily frame (:mod:`engine.frame`) with where each series came from."""

    frame: pd.DataFrame
    provenance: tuple[SeriesProvenance, ...]
    warnings: tuple[DataWarning, ...] = ()
    #: Optional per-day gamma levels from option-chain snapshots: a date-indexed frame
    #: with ``flip_level``, ``call_wall``, ``put_wall`` (USD) and ``as_of`` (ISO time).
    gex_levels: pd.DataFrame | None = None
    #: The GEX series the frame's ``gex_series`` codes name (code i is entry i), in the
    #: order they first appear; empty when the frame has no GEX.
    gex_series: tuple[GexSeries, ...] = ()

    def gex_series_on(self, pos: int) -> GexSeries | None:
        """The series of row ``pos``'s GEX value, or None (no value, or no ids)."""
        col = series_id_column("gex")
        if col not in self.frame.columns or not self.gex_series:
            return None
        code = self.frame[col].to_numpy(dtype=np.float64)[pos]
        return None if np.isnan(code) else self.gex_series[int(code)]


def _provenance(
    series: Series,
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


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, last) positions of each run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def gap_warnings(
    series: Series,
    index: pd.DatetimeIndex,
    missing: npt.NDArray[np.bool_],
    has_value: npt.NDArray[np.bool_],
    ffill_limit: int,
) -> list[DataWarning]:
    """One warning per run of trading days without a real value, naming its dates.

    The warning's subject dates are the run's first and last days; a replay keys on the
    first (a replay of an earlier day never sees a gap that begins after it). Days
    carried forward and days left empty beyond ``ffill_limit`` are named separately.
    """

    def days(lo: int, hi: int) -> str:
        if hi - lo < 3:
            return ", ".join(str(d.date()) for d in index[lo : hi + 1])
        return f"{index[lo].date()} to {index[hi].date()} ({hi - lo + 1} trading days)"

    out = []
    for lo, hi in _runs(missing):
        carried = has_value[lo : hi + 1]
        n_carried = int(carried.sum())
        text = f"{series}: no value on {days(lo, hi)}"
        if n_carried == hi - lo + 1:
            text += f"; carried forward from {index[lo - 1].date()}"
        elif n_carried:
            text += (
                f"; the first {n_carried} carried forward from {index[lo - 1].date()}, "
                f"the rest left empty (forward fill is limited to {ffill_limit} days)"
            )
        else:
            text += "; left empty"
        dates = (index[lo].date(), index[hi].date())
        out.append(DataWarning(code=WarningCode.GAP, series=series, dates=dates, text=text))
    return out


def assemble(
    prices: pd.DataFrame,
    aux: Mapping[str, pd.Series],
    sources: Mapping[str, str],
    *,
    notes: Mapping[str, str] | None = None,
    synthetic: bool = False,
    ffill_limit: int = 3,
    gex_series: Sequence[GexSeries] = (),
    gex_ids: pd.Series | None = None,
) -> Dataset:
    """Join price rows and auxiliary series into a :class:`Dataset`.

    ``prices`` has a DatetimeIndex and at least ``close``; ``aux`` maps ``vix``, ``gex``
    and ``dark_pool`` to date-indexed series (a column of ``prices`` with a series' name
    is used when ``aux`` lacks it). Aux series are reindexed onto the price calendar and
    forward-filled at most ``ffill_limit`` rows; each run of missing days becomes a
    warning naming its dates (:func:`gap_warnings`). ``sources`` and ``notes`` are keyed
    by series name.

    ``gex_series`` names the GEX series in play and ``gex_ids`` (on the GEX values'
    dates) the index into it of each value; with one series and no ids every value is
    series 0. The frame then carries ``gex_series`` codes, renumbered in order of first
    appearance (so a prefix of the data numbers its days the same way), carried forward
    with the values they belong to.
    """
    if prices.empty:
        raise InputDataError("the price data has no rows")
    if len(prices) < MIN_ROWS:
        raise InsufficientHistoryError(
            f"the price data has {len(prices)} rows; the indicators need at least "
            f"{MIN_ROWS} trading days (SMA50 and the MACD signal line)"
        )
    index = pd.DatetimeIndex(prices.index, name="date")
    frame = pd.DataFrame(index=index)
    for col in PRICE_COLUMNS:
        frame[col] = prices[col].astype("float64") if col in prices else prices["close"]
    if "adj_close" in prices and prices["adj_close"].notna().all():
        frame["adj_close"] = prices["adj_close"].astype("float64")
    else:
        frame["adj_close"] = frame["close"]
    frame["volume"] = prices["volume"].astype("float64") if "volume" in prices else np.nan
    warnings: list[DataWarning] = []
    notes = notes or {}
    prov: list[SeriesProvenance] = [
        _provenance("prices", frame["close"], sources.get("prices", "?"), synthetic=synthetic)
    ]
    for name in AUX_SERIES:
        series = aux.get(name)
        if series is None and name in prices:
            series = prices[name]
        if series is None or series.dropna().empty:
            frame[name] = np.nan
            prov.append(_provenance(name, None, "", note=notes.get(name)))
            continue
        real = series.astype("float64").reindex(frame.index)
        filled = real.ffill(limit=ffill_limit)
        start = series.dropna().index[0]
        missing = (index >= start) & real.isna().to_numpy()
        warnings += gap_warnings(name, index, missing, filled.notna().to_numpy(), ffill_limit)
        frame[name] = filled
        prov.append(
            _provenance(
                name, real, sources.get(name, "?"), note=notes.get(name), synthetic=synthetic
            )
        )
    out = frame[list(COLUMNS)]
    named: tuple[GexSeries, ...] = ()
    gex = aux.get("gex")
    if gex_series and gex is not None and not gex.dropna().empty:
        out, named = _with_gex_ids(out, gex, gex_series, gex_ids, ffill_limit)
    return Dataset(frame=out, provenance=tuple(prov), warnings=tuple(warnings), gex_series=named)


def _with_gex_ids(
    frame: pd.DataFrame,
    gex: pd.Series,
    series: Sequence[GexSeries],
    ids: pd.Series | None,
    ffill_limit: int,
) -> tuple[pd.DataFrame, tuple[GexSeries, ...]]:
    """``frame`` with a ``gex_series`` column and the series in first-appearance order."""
    given = ids if ids is not None else pd.Series(0.0, index=gex.index)
    given = given.astype("float64").where(gex.notna())
    codes = given.reindex(frame.index).ffill(limit=ffill_limit)
    codes = codes.where(frame["gex"].notna())
    order = list(dict.fromkeys(int(c) for c in codes.dropna()))
    renumber = {old: float(new) for new, old in enumerate(order)}
    out = frame.copy()
    out[series_id_column("gex")] = codes.map(renumber).astype("float64")
    return out, tuple(series[i] for i in order)
