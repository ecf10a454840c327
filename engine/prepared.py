"""The per-dataset work done once: indicators, rule fires and forward returns.

:func:`prepare` computes them over the whole history; :mod:`engine.build` then reads one
day's :class:`~engine.state.MarketState` out of the result, and :mod:`engine.audit` and
:mod:`engine.walkforward` measure rules on it. Every indicator is causal and every
statistic is cut at the as-of row, so rows after a day never change that day's figures.

Front-ends read past days only through :meth:`Prepared.history`, a documented window,
never through the frames held here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.dataset import Dataset
from engine.edge import forward_returns
from engine.forecast import ForecastArrays, forecast_arrays
from engine.frame import as_of_row
from engine.indicators import compute_indicators
from engine.rules import Playbook, evaluate_rules, load_playbook
from engine.state import EngineParams

#: Columns of :attr:`History.bars`, in order.
HISTORY_COLUMNS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vix",
    "gex",
    "dark_pool",
    "sma20",
    "sma50",
    "sma200",
    "bb_upper",
    "bb_lower",
    "rsi14",
)


#: Rows read with a masked forecast run before the full pipeline is computed instead.
ROW_RUNS = 3


@dataclass(frozen=True)
class History:
    """The sessions up to and including a day, for charts and tables.

    ``bars``: one row per session (date index), the columns of :data:`HISTORY_COLUMNS`
    (prices as traded in USD, volume in shares, VIX points, GEX in USD per 1% move,
    the dark-pool ratio, the moving averages, Bollinger bands and RSI(14)); NaN where a
    series or an indicator has no value. ``fires``: one boolean column per playbook rule
    on the same index, True on the days the rule fired. ``levels``: the gamma levels of
    the option-chain snapshots taken on days of the window (``flip_level``,
    ``call_wall``, ``put_wall`` in USD, ``as_of`` the chain's ISO time), indexed by
    those days only; None when the data has no chain snapshots.
    """

    bars: pd.DataFrame
    fires: pd.DataFrame
    levels: pd.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything computed once per dataset, shared by every day's state.

    Compared and hashed by identity: two preparations are never interchangeable keys.
    ``ind`` is the daily frame with :data:`engine.indicators.INDICATOR_COLUMNS` added,
    ``fires`` one boolean column per rule, ``fwd`` the forward returns ``r1``, ``r5``.
    """

    dataset: Dataset
    playbook: Playbook
    params: EngineParams
    ind: pd.DataFrame
    fires: pd.DataFrame
    fwd: pd.DataFrame
    _row_runs: dict[int, ForecastArrays] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _columns: dict[str, npt.NDArray[np.float64]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _fire_columns: dict[str, npt.NDArray[np.bool_]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @cached_property
    def row_hashes(self) -> npt.NDArray[np.uint64]:
        """One uint64 per row of the dataset's frame (``pd.util.hash_pandas_object`` with
        the index), computed once. Each row's hash depends on that row alone, so the
        first ``k`` of them are exactly the hashes of the frame cut after row ``k - 1``.
        """
        hashes = pd.util.hash_pandas_object(self.dataset.frame, index=True)
        return np.asarray(hashes.to_numpy(), dtype=np.uint64)

    def column(self, name: str) -> npt.NDArray[np.float64]:
        """Column ``name`` of :attr:`ind` as a float64 array, read through pandas once.

        Shared and read-only by convention (often a view of the frame's block); several
        threads may fill the cache at once, which only repeats a read.
        """
        values = self._columns.get(name)
        if values is None:
            values = self.ind[name].to_numpy(dtype=np.float64)
            self._columns[name] = values
        return values

    def fire_column(self, name: str) -> npt.NDArray[np.bool_]:
        """Rule ``name``'s column of :attr:`fires` as a bool array, read once."""
        values = self._fire_columns.get(name)
        if values is None:
            values = self.fires[name].to_numpy(dtype=np.bool_)
            self._fire_columns[name] = values
        return values

    @cached_property
    def forecast(self) -> ForecastArrays:
        """The forecast pipeline over every row (:mod:`engine.forecast`), computed once.

        Causal, so ``state_at`` reads one row of it and the walk-forward reads them all.
        Computed on first use: an audit alone never pays for it.
        """
        return forecast_arrays(
            self.dataset.frame,
            self.fires,
            self.fwd,
            [r.name for r in self.playbook.rules],
            self.params,
        )

    def forecast_at(self, pos: int) -> ForecastArrays:
        """The forecast pipeline, exact on row ``pos`` (what ``state_at`` reads).

        The full arrays once computed; before that, a run masked to ``pos``
        (:func:`engine.forecast.forecast_arrays` with ``only``), several times cheaper
        because it skips the refits no one reads. After :data:`ROW_RUNS` different rows
        the full pipeline is computed once and used from then on, so a replay of many
        days never pays the masked run again and again.
        """
        # One Prepared serves many threads (the bot builds states in a pool): every read
        # is a single lookup, and the row runs are dropped only after the full arrays are
        # in place, so a reader never finds a key gone between a test and its read.
        full: ForecastArrays | None = self.__dict__.get("forecast")
        if full is not None:
            return full
        hit = self._row_runs.get(pos)
        if hit is not None:
            return hit
        if len(self._row_runs) >= ROW_RUNS:
            full = self.forecast
            self._row_runs.clear()
            return full
        only = np.zeros(len(self.ind), dtype=bool)
        only[pos] = True
        arrays = forecast_arrays(
            self.dataset.frame,
            self.fires,
            self.fwd,
            [r.name for r in self.playbook.rules],
            self.params,
            only=only,
        )
        if "forecast" not in self.__dict__:  # a run finished after the switch is not kept
            self._row_runs[pos] = arrays
        return arrays

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The trading days of the data, ascending."""
        return pd.DatetimeIndex(self.ind.index)

    def history(self, as_of: dt.date | None = None, sessions: int = 180) -> History:
        """The last ``sessions`` sessions up to ``as_of`` (default: the last day)."""
        end = as_of_row(self.dates, as_of) + 1
        start = max(end - sessions, 0)
        bars = self.ind.iloc[start:end][list(HISTORY_COLUMNS)].copy()
        chain = self.dataset.gex_levels
        levels = None
        if chain is not None:
            levels = chain[chain.index.isin(bars.index)].copy()
        return History(bars=bars, fires=self.fires.iloc[start:end].copy(), levels=levels)


def prepare(
    dataset: Dataset, playbook: Playbook | None = None, params: EngineParams | None = None
) -> Prepared:
    """Indicators, rule fires and forward returns over the whole dataset."""
    book = playbook or load_playbook()
    prm = params or EngineParams()
    ind = compute_indicators(dataset.frame)
    return Prepared(
        dataset=dataset,
        playbook=book,
        params=prm,
        ind=ind,
        fires=evaluate_rules(book, ind, prm),
        fwd=forward_returns(dataset.frame),
    )
