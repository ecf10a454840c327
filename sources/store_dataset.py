"""The local store as a :class:`~engine.dataset.Dataset`, ready for the engine.

Series are joined exactly as CSV files are (:func:`engine.dataset.assemble`), so a
forecast on the store and one on the same data as CSV files are identical. Each
series' source is the provider or file that wrote its latest row.

GEX: the store may hold several GEX series (the ticker's own chain snapshots, an
imported history of the ticker's GEX, another underlying's history standing in, such as
the S&P 500's from SqueezeMetrics' DIX.csv). The rules use one value per day, taken
from the most direct series that has one, in this order:

1. the ticker's chain snapshots (computed here from its option chain),
2. an imported history of the ticker's own GEX,
3. a stand-in (another underlying's GEX), the latest written first.

Each day's value keeps its series (the frame's ``gex_series``), so a report names the
series of today's value and no flip is read across a change of series.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

import numpy as np
import pandas as pd

from engine.dataset import Dataset, GexSeries, assemble
from engine.errors import EmptyStoreError
from engine.series import SERIES, AuxSeries, Series
from engine.state import DataWarning, WarningCode
from sources.csv_import import SQUEEZEMETRICS_NOTE, stand_in_note
from sources.store import VALUE_COLUMN, Store
from sources.validate import scale_gex, unadjusted_warning

log = logging.getLogger(__name__)

_EMPTY_HINT = (
    "the local store has no IWM prices yet: run 'iwm-analyst update' to download them, "
    "or 'iwm-analyst import FILE' to load your own CSV (try --demo meanwhile)"
)


def _source(frame: pd.DataFrame) -> str:
    return f"store ({frame['source'].iloc[-1]})" if len(frame) else "store"


def _rank(underlying: str, method: str, ticker: str) -> int:
    if underlying == ticker:
        return 0 if method == "chain" else 1
    return 2


def gex_choice(
    gex: pd.DataFrame, ticker: str
) -> tuple[pd.Series | None, pd.Series | None, tuple[GexSeries, ...], list[DataWarning]]:
    """One GEX value per day from the store's GEX rows, with each value's series.

    Returns (values, series ids into the returned series, the series, unit warnings).
    """
    if gex.empty:
        return None, None, (), []
    keys = sorted(
        {(str(u), str(m)) for u, m in zip(gex["underlying"], gex["method"], strict=True)},
        key=lambda k: (_rank(k[0], k[1], ticker), k),
    )
    series: list[GexSeries] = []
    warnings: list[DataWarning] = []
    for underlying, method in keys:
        rows = gex[(gex["underlying"] == underlying) & (gex["method"] == method)]
        source = _source(rows)
        stand_in = underlying != ticker
        note = None
        if stand_in:
            dix = "DIX" in str(rows["source"].iloc[-1])
            note = (
                SQUEEZEMETRICS_NOTE
                if dix and ticker == "IWM"
                else stand_in_note(underlying, ticker)
            )
        series.append(
            GexSeries(
                underlying=underlying,
                method="chain" if method == "chain" else "history",
                source=source,
                stand_in=stand_in,
                note=note,
            )
        )
        _, unit = scale_gex(rows["net_gex"], f"the store's {series[-1].label}", None)
        if unit is not None:
            warnings.append(unit)
    code = {k: i for i, k in enumerate(keys)}
    ids = np.array(
        [code[(str(u), str(m))] for u, m in zip(gex["underlying"], gex["method"], strict=True)]
    )
    table = pd.DataFrame({"value": gex["net_gex"].to_numpy(), "id": ids}, index=gex.index)
    best = table.dropna(subset=["value"]).sort_values("id", kind="stable")
    best = best[~best.index.duplicated(keep="first")].sort_index()
    return best["value"].rename("gex"), best["id"].astype("float64"), tuple(series), warnings


def _adjusted_warning(prices: pd.DataFrame) -> DataWarning | None:
    missing = prices["adj_close"].isna()
    if not missing.any():
        return None
    if missing.all():
        return unadjusted_warning("the store's prices")
    days = prices.index[missing]
    return DataWarning(
        code=WarningCode.UNADJUSTED,
        series="prices",
        dates=(days[0].date(), days[-1].date()),
        text=f"prices: {int(missing.sum())} stored day(s) from {days[0].date()} to "
        f"{days[-1].date()} have no adjusted close, so returns use as-traded closes and "
        "exclude dividends (re-import with an adjusted close, or run 'iwm-analyst update')",
    )


def _future_warning(store: Store, ticker: str, until: dt.date) -> DataWarning | None:
    """Rows dated after ``until`` (written by versions that did not check dates)."""
    counts = {s: store.count_after(s, until, ticker) for s in SERIES}
    found = {s: n for s, n in counts.items() if n}
    if not found:
        return None
    listed = ", ".join(f"{n} {s}" for s, n in found.items())
    return DataWarning(
        code=WarningCode.FUTURE_ROWS,
        text=f"the store holds rows dated after the latest completed NYSE session ({until}): "
        f"{listed}; they are left out. Remove them with 'iwm-analyst prune'",
    )


def dataset_from_store(
    store: Store, ticker: str = "IWM", *, ffill_limit: int = 3, until: dt.date | None = None
) -> Dataset:
    """Every series in the store for ``ticker``; EmptyStoreError with a hint when empty.

    ``until`` (the latest completed NYSE session, from the caller's clock) leaves out
    rows dated after it, with a warning: a store written before dates were checked may
    hold some, and no forecast may be dated in the future.
    """
    warnings: list[DataWarning] = []
    if until is not None:
        future = _future_warning(store, ticker, until)
        if future is not None:
            warnings.append(future)

    def read(series: Series) -> pd.DataFrame:
        frame = store.read(series, ticker)
        return frame if until is None else frame.loc[: pd.Timestamp(until)]

    prices = read("prices")
    if prices.empty:
        raise EmptyStoreError(_EMPTY_HINT)
    others: tuple[AuxSeries, ...] = ("vix", "dark_pool")
    tables = {name: read(name) for name in others}
    aux = {
        name: tables[name][VALUE_COLUMN[name]].rename(name) if len(tables[name]) else None
        for name in others
    }
    gex_rows = read("gex")
    gex_values, gex_ids, gex_series, unit_warnings = gex_choice(gex_rows, ticker)
    warnings += unit_warnings
    sources = {"prices": _source(prices)} | {k: _source(v) for k, v in tables.items()}
    sources["gex"] = _source(gex_rows)
    notes = {"gex": gex_series[0].note} if len(gex_series) == 1 and gex_series[0].note else {}
    dataset = assemble(
        prices,
        {k: v for k, v in {**aux, "gex": gex_values}.items() if v is not None},
        sources,
        notes=notes,
        ffill_limit=ffill_limit,
        gex_series=gex_series,
        gex_ids=gex_ids,
    )
    chain = gex_rows[(gex_rows["underlying"] == ticker) & (gex_rows["method"] == "chain")]
    levels = chain[["flip_level", "call_wall", "put_wall", "as_of"]] if not chain.empty else None
    adjusted = _adjusted_warning(prices)
    if adjusted is not None:
        warnings.append(adjusted)
    log.info("store dataset: %s rows, last %s", len(dataset.frame), dataset.frame.index[-1])
    return replace(dataset, warnings=(*warnings, *dataset.warnings), gex_levels=levels)
