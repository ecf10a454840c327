"""Levels and dealer gamma for every front-end: what ``gex`` and ``levels`` show.

Everything here reads figures the engine already made (the state's GEX regime, ranges
and key levels; a chain's :class:`~engine.gex.GexResult` when one is known) and writes
them once, so the terminal chat, its offline answers, the Discord commands, buttons and
the morning post agree. The lines are plain text (Discord puts them in a code block);
:func:`as_markdown` keeps their line breaks where markdown is rendered (the chat).

* :func:`gex_lines` - net GEX with the series it comes from (IWM's own chain or a
  stand-in such as the S&P 500's) and its as-of, the flip, the call and put walls,
  GEX by expiry when a chain is known, the series' caveat, and the expected move from
  the state's ranges.
* :func:`levels_text` - every key level of the next session with its distance.
* :func:`levels_block` - tomorrow's range and the nearest key levels in a few lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import prompts
from bot.views.fmt import num, signed_pct, usd
from engine.state import KeyLevel, MarketState, MoveRange

if TYPE_CHECKING:
    from engine.gex import GexResult

#: GEX is quoted in USD of dealer hedging per 1% move of the underlying.
PER = "per 1% move"
#: Expiries listed under "GEX by expiry" (the largest by |net GEX|).
TOP_EXPIRIES = 5
#: Key levels in the compact block: this many above and below the close.
LEVELS_EACH_SIDE = 3


def gex_series_name(state: MarketState) -> str:
    """Whose gamma today's GEX is: the engine's series label, else the GEX provenance."""
    if state.regime.gex.series:
        return state.regime.gex.series
    prov = next((p for p in state.provenance if p.series == "gex"), None)
    if prov is None or prov.rows == 0:
        return "no GEX series"
    synthetic = prov.synthetic and "synthetic" not in prov.source
    name = prov.source + (" (synthetic)" if synthetic else "")
    return f"{name}; {prov.note}" if prov.note else name


def _gex_as_of(state: MarketState) -> str:
    gex = state.regime.gex
    if gex.snapshot_time is not None:
        return f"chain as of {gex.snapshot_time:%Y-%m-%d %H:%M %Z}".rstrip()
    prov = next((p for p in state.provenance if p.series == "gex"), None)
    last = prov.last_date if prov is not None else None
    return f"last value {last}" if last is not None else f"as of {state.as_of}"


def _level_line(name: str, price: float | None, ref: float, ref_name: str = "close") -> str:
    if price is None:
        return f"{name}: none known"
    return f"{name}: {num(price)} ({signed_pct(price / ref - 1, 1)} from the {ref_name})"


def move_lines(state: MarketState) -> list[str]:
    """Expected move: the 68% and 90% ranges for tomorrow and for 5 days."""
    out = []
    for label, move in (("tomorrow", state.tomorrow.move), ("5 days", state.next_5_days.move)):
        out.append(f"Expected move, {label}: {_range_text(move)}")
    return out


def _range_text(move: MoveRange | None) -> str:
    if move is None:
        return "not enough history for a range"
    parts = []
    for level in (0.68, 0.90):
        band = move.band(level)
        if band is not None:
            parts.append(
                f"{level * 100:.0f}% {num(band.price_low)}-{num(band.price_high)} "
                f"({signed_pct(band.return_low, 1)}/{signed_pct(band.return_high, 1)})"
            )
    return ", ".join(parts) or "no range"


def gex_lines(state: MarketState, chain: GexResult | None = None) -> list[str]:
    """What ``gex`` shows: net GEX, its series and as-of, flip, walls, expiries, move.

    ``chain`` is today's option chain computed (:func:`engine.gex.compute_gex`); without
    one, the flip and walls are those the state carries (from a stored chain snapshot)
    and GEX by expiry is left out.
    """
    gex = state.regime.gex
    close = state.latest.close
    lines = [f"{state.ticker} dealer gamma on {state.as_of} (close {num(close)})"]
    if gex.value is None:
        lines.append(f"Net GEX: no value ({gex_series_name(state)})")
    else:
        lines.append(
            f"Net GEX: {usd(gex.value)} {PER}, {gex.regime} gamma "
            f"({gex_series_name(state)}, {_gex_as_of(state)})"
        )
    if chain is None:
        lines.append(_level_line("Zero-gamma flip", gex.flip_level, close))
        lines.append(_level_line("Call wall", gex.call_wall, close))
        lines.append(_level_line("Put wall", gex.put_wall, close))
    else:  # distances from the chain's own spot: the chain may be of another moment
        lines.append(
            f"{state.ticker} option chain as of {chain.as_of:%Y-%m-%d %H:%M}: "
            f"net {usd(chain.net_gex)} {PER}, spot {num(chain.spot)}"
        )
        lines.append(_level_line("Zero-gamma flip", chain.flip_level, chain.spot, "spot"))
        lines.append(_level_line("Call wall", chain.call_wall, chain.spot, "spot"))
        lines.append(_level_line("Put wall", chain.put_wall, chain.spot, "spot"))
    if chain is not None and not chain.by_expiry.empty:
        by = chain.by_expiry
        top = by.reindex(by["net_gex"].abs().sort_values(ascending=False).index)
        top = top.head(TOP_EXPIRIES).sort_index()
        lines.append(f"GEX by expiry (the {len(top)} largest):")
        for ts, row in top.iterrows():
            lines.append(f"  {ts:%Y-%m-%d}: net {usd(row['net_gex'])} {PER}")
    if gex.note:
        lines.append(f"Note: {gex.note}")
    lines.extend(move_lines(state))
    return lines


def as_markdown(lines: list[str]) -> str:
    """``lines`` as markdown that keeps them apart: the first as a paragraph, the rest as
    a list (an indented line as an item of the list above it)."""
    if not lines:
        return ""
    out = [_escape(lines[0]), ""]
    for line in lines[1:]:
        indent = "    " if line.startswith("  ") else ""
        out.append(f"{indent}* {_escape(line.strip())}")
    return "\n".join(out)


def _escape(text: str) -> str:
    """Markdown's emphasis characters shown as themselves (a '*' or '_' in a name)."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def _phrases() -> dict[str, Any]:
    return prompts.table("offline_answers.toml")


def levels_text(state: MarketState) -> str:
    """Every key level of the next session, highest first, with its distance (markdown)."""
    p = _phrases()
    close = state.latest.close
    lines = [p["levels"].format(as_of=state.as_of, close=num(close))]
    for lv in state.key_levels:
        sigma = "" if lv.distance_sigma is None else f", {lv.distance_sigma:+.1f} sigma"
        lines.append(
            p["level_line"].format(
                name=lv.name, price=num(lv.price), distance=signed_pct(lv.distance), sigma=sigma
            )
        )
    g = state.regime.gex
    text = "\n".join(lines)
    if g.call_wall is None and g.put_wall is None and g.flip_level is None:
        text += "\n\n" + p["wall_missing"].format(name="call or put wall", as_of=state.as_of)
    return text


def _nearest(levels: tuple[KeyLevel, ...], close: float) -> list[KeyLevel]:
    above = [lv for lv in levels if lv.price >= close][-LEVELS_EACH_SIDE:]
    below = [lv for lv in levels if lv.price < close][:LEVELS_EACH_SIDE]
    return above + below


def levels_block(state: MarketState) -> str:
    """Tomorrow's range and the nearest key levels, a few short lines (highest first)."""
    close = state.latest.close
    lines = [f"Range tomorrow: {_range_text(state.tomorrow.move)}"]
    nearest = _nearest(state.key_levels, close)
    if nearest:
        items = []
        marked = False
        for lv in nearest:
            if not marked and lv.price < close:
                items.append(f"**{num(close)} close**")
                marked = True
            items.append(f"{num(lv.price)} {lv.name}")
        if not marked:
            items.append(f"**{num(close)} close**")
        lines.append("Levels: " + " · ".join(items))
    gex = state.regime.gex
    if gex.value is not None:
        lines.append(f"Net GEX: {usd(gex.value)} {PER} ({gex.regime} gamma)")
    return "\n".join(lines)
