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
    vix = store.read("vix", ticker)
    gex = store.read("gex", ticker)
    dark = store.read("dark_pool", ticker)
    aux = {
        "vix": vix["close"] if not vix.empty else None,
        "gex": gex["net_gex"] if not gex.empty else None,
        "dp_ratio": dark["ratio"] if not dark.empty else None,
    }
    sources = {
        "prices": _source(prices),
        "vix": _source(vix),
        "gex": _source(gex),
        "dark_pool": _source(dark),
    }
    # A GEX history imported from SqueezeMetrics' DIX.csv is the S&P 500's, not IWM's.
    notes = {"gex": SQUEEZEMETRICS_NOTE} if "DIX" in sources["gex"] else {}
    dataset = assemble(
        prices,
        {k: v for k, v in aux.items() if v is not None},
        sources,
        notes=notes,
        ffill_limit=ffill_limit,
    )
    levels = gex[["flip_level", "call_wall", "put_wall", "as_of"]] if not gex.empty else None
    log.info("store dataset: %s rows, last %s", len(dataset.frame), dataset.frame.index[-1])
    return Dataset(
        frame=dataset.frame,
        provenance=dataset.provenance,
        warnings=dataset.warnings,
        gex_levels=levels,
    )
