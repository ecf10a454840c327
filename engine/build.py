"""Building the :class:`~engine.state.MarketState` for a day.

:func:`engine.prepared.prepare` does the per-dataset work once (indicators, rule fires,
forward returns); :func:`state_at` then reads one day out of it. Every indicator is
causal and every statistic is cut at the as-of row (:mod:`engine.audit`), so
``state_at(prepare(data), t)`` equals ``state_at(prepare(data truncated at t), t)``:
rows after ``t`` change nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import Literal

import numpy as np
import pandas as pd

from engine.audit import enrich_rule_states
from engine.dataset import Dataset
from engine.errors import InputDataError, InsufficientHistoryError
from engine.forecast import make_forecast
from engine.frame import as_of_row, series_id_column
from engine.indicators import TREND_SLOPE_LOOKBACK
from engine.levels import key_levels
from engine.prepared import Prepared, prepare
from engine.rules import Playbook, explain, is_available
from engine.state import (
    Bar,
    DarkPoolRegime,
    DataWarning,
    EngineParams,
    GexRegime,
    Indicators,
    MarketState,
    Regime,
    RuleState,
    SeriesProvenance,
    VixRegime,
    WarningCode,
)

__all__ = ["Prepared", "build_state", "prepare", "state_at"]

#: Gap warnings shown per series in a state; older ones are summarised in one line.
MAX_GAP_WARNINGS = 5


def _f(value: object) -> float | None:
    """A finite float, or None for NaN/missing."""
    if value is None:
        return None
    x = float(value)  # type: ignore[arg-type]
    return x if math.isfinite(x) else None


def _position(index: pd.DatetimeIndex, as_of: dt.date | None) -> int:
    if as_of is not None:
        first, last = index[0].date(), index[-1].date()
        if as_of > last:
            raise InputDataError(f"no data for {as_of}: the data ends on {last}")
        if as_of < first:
            raise InsufficientHistoryError(f"no data for {as_of}: the data starts on {first}")
    return as_of_row(index, as_of)


def _check_warmup(ind: pd.DataFrame, pos: int, columns: tuple[str, ...]) -> None:
    """InsufficientHistoryError unless every column the rules read has a value at ``pos``."""
    row = ind.iloc[pos]
    missing = [c for c in columns if pd.isna(row[c])]
    if missing:
        ready = ind[list(columns)].notna().all(axis=1).to_numpy()
        first = ind.index[int(np.argmax(ready))].date() if ready.any() else None
        hint = f"; the first day with every indicator is {first}" if first else ""
        raise InsufficientHistoryError(
            f"not enough history before {ind.index[pos].date()} for {', '.join(missing)}: "
            f"the indicators need about 60 trading days{hint}"
        )


def _inputs_hash(prepared: Prepared, pos: int) -> str:
    """SHA-256 of the row hashes of the dataset's frame up to and including ``pos``."""
    return hashlib.sha256(prepared.row_hashes[: pos + 1].tobytes()).hexdigest()


def _provenance_at(
    prov: tuple[SeriesProvenance, ...], index: pd.DatetimeIndex, pos: int, dataset: Dataset
) -> tuple[SeriesProvenance, ...]:
    as_of = index[pos].date()
    out = []
    gex_series = dataset.gex_series_on(pos)
    for p in prov:
        if p.series == "gex" and gex_series is not None:
            # Name the series today's value comes from, with its own source and caveat.
            p = p.model_copy(
                update={
                    "source": f"{gex_series.label}, {gex_series.source}",
                    "note": gex_series.note,
                }
            )
        if p.last_date is None:
            out.append(p)
            continue
        last = min(p.last_date, as_of)
        if p.first_date is not None and p.first_date > as_of:
            out.append(p.model_copy(update={"first_date": None, "last_date": None, "rows": 0}))
            continue
        behind = int(index.searchsorted(pd.Timestamp(as_of), side="right")) - int(
            index.searchsorted(pd.Timestamp(last), side="right")
        )
        out.append(p.model_copy(update={"last_date": last, "stale_days": max(behind, 0)}))
    return tuple(out)


def _rule_states(prepared: Prepared, pos: int) -> tuple[RuleState, ...]:
    ind = prepared.ind
    states = []
    for spec in prepared.playbook.rules:
        col = prepared.fire_column(spec.name)[: pos + 1]
        hits = np.flatnonzero(col)
        states.append(
            RuleState(
                name=spec.name,
                tier=spec.tier,
                direction=spec.direction,
                signal=spec.signal,
                nickname=spec.nickname,
                rationale=spec.rationale,
                claim=spec.claim,
                fired=bool(col[-1]),
                available=is_available(spec, ind, pos, prepared.column),
                conditions=explain(spec, ind, pos, prepared.params, prepared.column),
                last_fired=ind.index[hits[-1]].date() if hits.size else None,
            )
        )
    return tuple(states)


def _gex_series_changed(prepared: Prepared, pos: int) -> bool:
    """True when row ``pos``'s GEX value and the row before's come from different series."""
    col = series_id_column("gex")
    if pos < 1 or col not in prepared.ind.columns:
        return False
    ids = prepared.ind[col].to_numpy(dtype=np.float64)[pos - 1 : pos + 1]
    return not np.isnan(ids).any() and ids[0] != ids[1]


def _gex_series_warning(prepared: Prepared, pos: int) -> DataWarning | None:
    """When GEX values up to ``pos`` come from more than one series, say which and when."""
    data = prepared.dataset
    col = series_id_column("gex")
    today = data.gex_series_on(pos)
    if today is None or len(data.gex_series) < 2:
        return None
    ids = data.frame[col].to_numpy(dtype=np.float64)[: pos + 1]
    index = prepared.dates
    others = []
    for code, series in enumerate(data.gex_series):
        days = np.flatnonzero(ids == code)
        if series is today or not days.size:
            continue
        first, last = index[days[0]].date(), index[days[-1]].date()
        others.append((first, f"the {series.label} ({series.source}, {first} to {last})"))
    if not others:
        return None
    changes = np.flatnonzero(np.diff(ids) != 0)
    first_change = index[changes[0] + 1].date() if changes.size else index[pos].date()
    return DataWarning(
        code=WarningCode.SERIES_CHANGE,
        series="gex",
        dates=(first_change,),
        text=f"gex: today's value is the {today.label} ({today.source}); earlier days come "
        f"from {'; '.join(t for _, t in sorted(others))}. The rules' record mixes these "
        "series, and no flip is read across a change of series",
    )


def _regime(prepared: Prepared, pos: int, gex_note: str | None) -> Regime:
    row = prepared.ind.iloc[pos]
    params = prepared.params
    # gex_prev is NaN across a change of GEX series (engine.frame.previous_in_series).
    vix, gex, prev = _f(row["vix"]), _f(row["gex"]), _f(row["gex_prev"])
    gex_series = prepared.dataset.gex_series_on(pos)
    dp = _f(row["dark_pool"])
    vix_regime: Literal["high", "normal", "unknown"] = "unknown"
    if vix is not None:
        vix_regime = "high" if vix >= params.high_vix else "normal"
    gex_regime: Literal["positive", "negative", "unknown"] = "unknown"
    if gex is not None:
        gex_regime = "negative" if gex < 0 else "positive"
    dp_regime: Literal["bullish", "neutral", "unknown"] = "unknown"
    if dp is not None:
        dp_regime = "bullish" if dp > params.dark_pool_threshold else "neutral"
    return Regime(
        vix=VixRegime(
            level=vix,
            mean_10d=_f(row["vix_mean10"]),
            high_threshold=params.high_vix,
            regime=vix_regime,
        ),
        gex=GexRegime(
            value=gex,
            previous=prev,
            regime=gex_regime,
            flipped_positive=gex is not None and prev is not None and prev < 0 <= gex,
            flipped_negative=gex is not None and prev is not None and prev >= 0 > gex,
            note=gex_series.note if gex_series is not None else gex_note,
            series=gex_series.label if gex_series is not None else None,
            series_changed=_gex_series_changed(prepared, pos),
            **_gex_levels(prepared, pos),
        ),
        dark_pool=DarkPoolRegime(
            ratio=dp,
            mean_20d=_f(row["dark_pool_mean20"]),
            threshold=params.dark_pool_threshold,
            regime=dp_regime,
        ),
    )


def _gex_levels(prepared: Prepared, pos: int) -> dict[str, object]:
    """Flip level and walls from the chain snapshot taken on the as-of day, if any."""
    levels = prepared.dataset.gex_levels
    day = prepared.ind.index[pos]
    if levels is None or day not in levels.index:
        return {}
    row = levels.loc[day]
    stamp = row.get("as_of")
    return {
        "flip_level": _f(row.get("flip_level")),
        "call_wall": _f(row.get("call_wall")),
        "put_wall": _f(row.get("put_wall")),
        "snapshot_time": dt.datetime.fromisoformat(stamp) if isinstance(stamp, str) else None,
    }


def _fewer_gaps(warnings: list[DataWarning], keep: int = MAX_GAP_WARNINGS) -> list[DataWarning]:
    """At most ``keep`` gap warnings per series (the latest), plus a count of the rest.

    Works on the warnings already cut at the as-of day, so the count never includes a
    gap after it.
    """
    gaps: dict[str | None, list[int]] = {}
    for i, w in enumerate(warnings):
        if w.code == WarningCode.GAP:
            gaps.setdefault(w.series, []).append(i)
    drop = {i for idx in gaps.values() for i in idx[:-keep]} if keep > 0 else set()
    out = [w for i, w in enumerate(warnings) if i not in drop]
    for series, idx in gaps.items():
        if len(idx) > keep:
            first_shown = warnings[idx[-keep]].dates[0]
            out.append(
                DataWarning(
                    code=WarningCode.GAPS_NOT_LISTED,
                    series=series,
                    dates=(first_shown,),
                    text=f"{series}: {len(idx) - keep} earlier gap(s) before {first_shown} "
                    "not listed",
                )
            )
    return out


def _warnings(
    prepared: Prepared, prov: tuple[SeriesProvenance, ...], day: dt.date
) -> tuple[DataWarning, ...]:
    out = _fewer_gaps([w for w in prepared.dataset.warnings if w.dated_by(day)])
    if any(p.synthetic for p in prov):
        out.insert(
            0,
            DataWarning(
                code=WarningCode.SYNTHETIC,
                text="SYNTHETIC DEMO DATA: these prices and signals are simulated, not the "
                "market. Use your own data with --csv FILE (or 'iwm-analyst import' / 'update').",
            ),
        )
    for p in prov:
        if p.series != "prices" and p.rows == 0:
            text = f"no {p.series} data: the rules that need it cannot fire"
            out.append(DataWarning(code=WarningCode.NO_SERIES, series=p.series, text=text))
        elif p.stale_days is not None and p.stale_days > 1 and p.last_date is not None:
            text = f"{p.series} is {p.stale_days} trading days old (last value {p.last_date})"
            out.append(
                DataWarning(
                    code=WarningCode.STALE, series=p.series, dates=(p.last_date,), text=text
                )
            )
        if p.note:
            text = f"{p.series}: {p.note}"
            out.append(DataWarning(code=WarningCode.STAND_IN, series=p.series, text=text))
    series_warning = _gex_series_warning(prepared, as_of_row(prepared.dates, day))
    if series_warning is not None:
        out.append(series_warning)
    return tuple(dict.fromkeys(out))


def state_at(prepared: Prepared, as_of: dt.date | None = None, ticker: str = "IWM") -> MarketState:
    """The MarketState on ``as_of`` (default: the last day), from data up to that day.

    ``as_of`` on a non-trading day means the last trading day before it.
    """
    ind = prepared.ind
    index = prepared.dates
    pos = _position(index, as_of)
    _check_warmup(ind, pos, prepared.playbook.warmup_columns)
    row = ind.iloc[pos]
    day = index[pos].date()
    prov = _provenance_at(prepared.dataset.provenance, index, pos, prepared.dataset)
    gex_note = next((p.note for p in prov if p.series == "gex" and p.note), None)
    rules = enrich_rule_states(prepared, _rule_states(prepared, pos), day)
    flavours = {r.name: r.flavour for r in prepared.playbook.rules}
    close = float(row["close"])
    arrays = prepared.forecast_at(pos)
    forecasts = {
        h: make_forecast(arrays, pos, h, rules, close, flavours, prepared.params) for h in (1, 5)
    }
    state = MarketState(
        ticker=ticker,
        as_of=day,
        synthetic=any(p.synthetic for p in prov),
        inputs_hash=_inputs_hash(prepared, pos),
        playbook_version=prepared.playbook.version,
        params=prepared.params,
        provenance=prov,
        latest=Bar(
            date=day,
            open=float(row["open"]),
            high=float(row["high"]),
            low=float(row["low"]),
            close=close,
            adj_close=float(row["adj_close"]),
            volume=_f(row["volume"]),
            change_pct=_f(row["change"]),
        ),
        indicators=Indicators(
            rsi14=_f(row["rsi14"]),
            sma20=_f(row["sma20"]),
            sma50=_f(row["sma50"]),
            sma200=_f(row["sma200"]),
            bb_upper=_f(row["bb_upper"]),
            bb_middle=_f(row["bb_middle"]),
            bb_lower=_f(row["bb_lower"]),
            bb_percent_b=_f(row["bb_percent_b"]),
            macd=_f(row["macd"]),
            macd_signal=_f(row["macd_signal"]),
            macd_hist=_f(row["macd_hist"]),
            atr14=_f(row["atr14"]),
            atr14_pct=_f(row["atr14_pct"]),
            realized_vol_20=_f(row["realized_vol_20"]),
            trend=row["trend"],
            trend_basis=_trend_basis(row),
        ),
        regime=_regime(prepared, pos, gex_note),
        rules=rules,
        tomorrow=forecasts[1],
        next_5_days=forecasts[5],
        warnings=_warnings(prepared, prov, day),
    )
    levels = key_levels(close, state.tomorrow.move, state.indicators, state.regime.gex)
    return state.model_copy(update={"key_levels": levels})


def _trend_basis(row: pd.Series) -> str:
    """The three facts behind the trend label (:func:`engine.indicators.trend_labels`).

    E.g. 'close 212.40 above SMA50 205.10; SMA20 208.30 above SMA50; SMA20 rising over
    5 sessions (+1.20)'.
    """
    close, sma20, sma50 = _f(row["close"]), _f(row["sma20"]), _f(row["sma50"])
    slope = _f(row["sma20_slope5"])
    if close is None or sma20 is None or sma50 is None or slope is None:
        return "Sideways until SMA20 and SMA50 have enough history"
    above = "above" if close > sma50 else "below"
    order = "above" if sma20 > sma50 else "below"
    moving = "rising" if slope > 0 else "falling" if slope < 0 else "flat"
    return (
        f"close {close:.2f} {above} SMA50 {sma50:.2f}; SMA20 {sma20:.2f} {order} SMA50; "
        f"SMA20 {moving} over {TREND_SLOPE_LOOKBACK} sessions ({slope:+.2f})"
    )


def build_state(
    dataset: Dataset,
    as_of: dt.date | None = None,
    playbook: Playbook | None = None,
    params: EngineParams | None = None,
    ticker: str = "IWM",
) -> MarketState:
    """``state_at(prepare(dataset, playbook, params), as_of, ticker)`` in one call."""
    return state_at(prepare(dataset, playbook, params), as_of, ticker)
