"""Alerts: what changed between two consecutive sessions that a trader wants told at once.

:func:`detect_alerts` compares the session on (or before) ``as_of`` with the session
before it in a :class:`~engine.prepared.Prepared` data set and returns typed
:class:`AlertEvent` values, one per change:

* ``rule_started``: a Tier 1 playbook rule fires today and did not fire the session
  before (a rule that keeps firing is not news);
* ``gex_sign``: the ticker's own net GEX changed sign (negative means ``< 0``, as in the
  state's regime). Only a series of the ticker's own gamma counts; a stand-in (the S&P
  500's gamma from SqueezeMetrics) never raises one, and no change is read across a
  change of series (``gex_prev`` is NaN there, :func:`engine.frame.previous_in_series`);
* ``vix_cross``: VIX crossed ``params.high_vix`` up (from below to at-or-above) or down;
* ``level_cross``: the close crossed the call wall, the put wall or the zero-gamma flip
  level. Only on a session whose option-chain snapshot gives that level; yesterday's
  side is read against yesterday's level when its snapshot has it, else against today's.

Units: prices and levels in USD per share as traded, VIX in points, GEX in USD of delta
per 1% move. Pure: no clock, no I/O; the same data always gives the same events.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Final, Literal

import numpy as np
from pydantic import Field

from engine.frame import as_of_row
from engine.prepared import Prepared
from engine.rules import explain
from engine.state import Frozen

AlertKind = Literal["rule_started", "gex_sign", "vix_cross", "level_cross"]
LevelName = Literal["call_wall", "put_wall", "flip_level"]

#: The option-chain levels a close may cross, with the words used in the text.
LEVELS: Final[dict[LevelName, str]] = {
    "call_wall": "call wall",
    "put_wall": "put wall",
    "flip_level": "gamma flip",
}


class AlertEvent(Frozen):
    """One change between two consecutive sessions.

    ``key`` names the event within its session (``rule:Golden_Setup``, ``gex_sign``,
    ``vix_cross``, ``level:call_wall``): (``as_of``, ``key``) identifies it, so a
    front-end can deliver each event once.
    """

    kind: AlertKind
    key: str
    as_of: dt.date = Field(description="The session the change happened on")
    previous: dt.date = Field(description="The session it is compared with")
    text: str = Field(description="One factual sentence with the figures")
    figures: dict[str, float] = Field(
        default_factory=dict,
        description="The numbers behind the text (points, USD, USD per 1% move)",
    )


def detect_alerts(
    prepared: Prepared, as_of: dt.date | None = None, *, ticker: str = "IWM"
) -> tuple[AlertEvent, ...]:
    """The events of the session on or before ``as_of`` (default: the last session).

    ``ticker`` names the traded fund in the level texts (the option-chain levels are
    the ticker's own strikes).

    Empty when there is no session before it. Events come in a fixed order: rules (in
    playbook order), GEX, VIX, then levels (call wall, put wall, flip).
    """
    dates = prepared.dates
    pos = as_of_row(dates, as_of)
    if pos < 1:
        return ()
    day, prev_day = dates[pos].date(), dates[pos - 1].date()
    events = [
        *_rules_started(prepared, pos, day, prev_day),
        *_gex_sign(prepared, pos, day, prev_day),
        *_vix_cross(prepared, pos, day, prev_day),
        *_level_crosses(prepared, pos, day, prev_day, ticker),
    ]
    return tuple(events)


def _value(x: object) -> float | None:
    """A finite float, or None for NaN, None and other missing values."""
    if x is None:
        return None
    v = float(x)  # type: ignore[arg-type]  # numpy scalars and floats from frames
    return v if math.isfinite(v) else None


def _rules_started(
    prepared: Prepared, pos: int, day: dt.date, prev_day: dt.date
) -> list[AlertEvent]:
    out = []
    for spec in prepared.playbook.rules:
        if spec.tier != 1 or spec.name not in prepared.fires.columns:
            continue
        col = prepared.fire_column(spec.name)
        if not col[pos] or col[pos - 1]:
            continue
        figures: dict[str, float] = {}
        for c in explain(spec, prepared.ind, pos, prepared.params, prepared.column):
            if c.left_value is not None:
                figures[c.left] = c.left_value
            # a column or a parameter on the right (not a bare number) is a figure too
            if c.right_value is not None and not _is_number(c.right):
                figures[c.right] = c.right_value
        text = (
            f"Tier 1 rule {spec.name} ({spec.signal}) started firing on {day} "
            f"(it did not fire on {prev_day})"
        )
        if "gex" in spec.series:
            series = prepared.dataset.gex_series_on(pos)
            text += f"; its GEX input is the {series.label if series else 'unnamed GEX series'}"
        out.append(
            AlertEvent(
                kind="rule_started",
                key=f"rule:{spec.name}",
                as_of=day,
                previous=prev_day,
                text=text + ".",
                figures=figures,
            )
        )
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def usd(value: float) -> str:
    """Dollar amounts of GEX in words: '+$1.25B', '-$310.0M', '+$5,200'."""
    a = abs(value)
    if a < 0.5:
        return "$0"
    sign = "-" if value < 0 else "+"
    if a >= 1e9:
        return f"{sign}${a / 1e9:.2f}B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:.1f}M"
    return f"{sign}${a:,.0f}"


def _gex_sign(prepared: Prepared, pos: int, day: dt.date, prev_day: dt.date) -> list[AlertEvent]:
    row = prepared.ind.iloc[pos]
    gex, prev = _value(row.get("gex")), _value(row.get("gex_prev"))
    series = prepared.dataset.gex_series_on(pos)
    if gex is None or prev is None or series is None or series.stand_in:
        return []
    if (gex < 0) == (prev < 0):
        return []
    turned = "negative" if gex < 0 else "positive"
    text = (
        f"{series.underlying} net GEX turned {turned}: {usd(gex)} per 1% move on {day}, "
        f"from {usd(prev)} on {prev_day} (series: {series.label}, {series.source})."
    )
    return [
        AlertEvent(
            kind="gex_sign",
            key="gex_sign",
            as_of=day,
            previous=prev_day,
            text=text,
            figures={"gex": gex, "gex_previous": prev},
        )
    ]


def _vix_cross(prepared: Prepared, pos: int, day: dt.date, prev_day: dt.date) -> list[AlertEvent]:
    vix_col = prepared.ind["vix"].to_numpy(dtype=np.float64) if "vix" in prepared.ind else None
    if vix_col is None:
        return []
    vix, prev = _value(vix_col[pos]), _value(vix_col[pos - 1])
    threshold = prepared.params.high_vix
    if vix is None or prev is None or (vix >= threshold) == (prev >= threshold):
        return []
    if vix >= threshold:
        what = f"rose to {vix:.2f}, at or above the high-VIX threshold of {threshold:g}"
    else:
        what = f"fell to {vix:.2f}, below the high-VIX threshold of {threshold:g}"
    return [
        AlertEvent(
            kind="vix_cross",
            key="vix_cross",
            as_of=day,
            previous=prev_day,
            text=f"VIX {what} on {day} (it closed at {prev:.2f} on {prev_day}).",
            figures={"vix": vix, "vix_previous": prev, "high_vix": threshold},
        )
    ]


def _level_crosses(
    prepared: Prepared, pos: int, day: dt.date, prev_day: dt.date, ticker: str
) -> list[AlertEvent]:
    levels = prepared.dataset.gex_levels
    today_ts, prev_ts = prepared.dates[pos], prepared.dates[pos - 1]
    if levels is None or today_ts not in levels.index:
        return []
    closes = prepared.ind["close"].to_numpy(dtype=np.float64)
    close, prev_close = _value(closes[pos]), _value(closes[pos - 1])
    if close is None or prev_close is None:
        return []
    out = []
    for name, words in LEVELS.items():
        level = _value(levels.at[today_ts, name]) if name in levels.columns else None
        if level is None:
            continue
        before = None
        if prev_ts in levels.index and name in levels.columns:
            before = _value(levels.at[prev_ts, name])
        prev_level = before if before is not None else level
        if (close >= level) == (prev_close >= prev_level):
            continue
        if close >= level:
            what = f"closed at {close:.2f}, at or above the {words} at {level:.2f}"
        else:
            what = f"closed at {close:.2f}, below the {words} at {level:.2f}"
        was = "above" if prev_close >= prev_level else "below"
        text = (
            f"{ticker} {what} on {day}; on {prev_day} it closed at {prev_close:.2f}, {was} "
            f"the {words} at {prev_level:.2f}."
        )
        out.append(
            AlertEvent(
                kind="level_cross",
                key=f"level:{name}",
                as_of=day,
                previous=prev_day,
                text=text,
                figures={
                    "close": close,
                    "close_previous": prev_close,
                    name: level,
                    f"{name}_previous": prev_level,
                },
            )
        )
    return out
