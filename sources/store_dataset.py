"""The local store as a :class:`~engine.dataset.Dataset`, ready for the engine.

Series are joined exactly as CSV files are (:func:`engine.dataset.assemble`), so a
forecast on the store and one on the same data as CSV files are identical. Each
series' source is the provider or file that wrote its latest row.
"""

from __future__ import annotations

import logging

import pandas as pd

from engine.dataset import Dataset, assemble
from engine.errors import EmptyStoreError
from engine.series import AUX_SERIES
from sources.csv_import import SQUEEZEMETRICS_NOTE
from sources.store import Store

log = logging.getLogger(__name__)

_EMPTY_HINT = (
    "the local store has no IWM prices yet: run 'iwm-analyst update' to download them, "
    "or 'iwm-analyst import FILE' to load your own CSV (try --demo meanwhile)"
)


def _source(frame: pd.DataFrame) -> str:
    return f"store ({frame['source'].iloc[-1]})" if len(frame) else "store"


def dataset_from_store(store: Store, ticker: str = "IWM", *, ffill_limit: int = 3) -> Dataset:
    """Every series in the store for ``ticker``; EmptyStoreError with a hint when empty."""
    prices = store.read("prices", ticker)
    if prices.empty:
        raise EmptyStoreError(_EMPTY_HINT)
    tables = {name: store.read(name, ticker) for name in AUX_SERIES}
    aux = {name: store.read_values(name, ticker) for name in AUX_SERIES}
    sources = {"prices": _source(prices)} | {k: _source(v) for k, v in tables.items()}
    # A GEX history imported from SqueezeMetrics' DIX.csv is the S&P 500's, not IWM's.
    notes = {"gex": SQUEEZEMETRICS_NOTE} if "DIX" in sources["gex"] else {}
    dataset = assemble(
        prices,
        {k: v for k, v in aux.items() if v is not None},
        sources,
        notes=notes,
        ffill_limit=ffill_limit,
    )
    gex = tables["gex"]
    levels = gex[["flip_level", "call_wall", "put_wall", "as_of"]] if not gex.empty else None
    log.info("store dataset: %s rows, last %s", len(dataset.frame), dataset.frame.index[-1])
    return Dataset(
        frame=dataset.frame,
        provenance=dataset.provenance,
        warnings=dataset.warnings,
        gex_levels=levels,
    )
