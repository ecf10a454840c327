"""One renderer for GEX and levels: the chat and Discord print the same lines."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from bot.views.levels import as_markdown, gex_lines, levels_text
from engine.gex import compute_gex
from engine.state import MarketState


def _chain() -> pd.DataFrame:
    """A small chain around 100: calls above, puts below, two expiries."""
    rows = []
    for expiry in (dt.date(2026, 1, 9), dt.date(2026, 1, 16)):
        for strike in (90.0, 95.0, 100.0, 105.0, 110.0):
            rows.append((expiry, "call", strike, 1000.0 if strike >= 100 else 100.0, 0.25))
            rows.append((expiry, "put", strike, 1000.0 if strike <= 100 else 100.0, 0.25))
    return pd.DataFrame(rows, columns=["expiration", "side", "strike", "open_interest", "iv"])


def test_gex_lines_name_the_ticker_series_as_of_and_move(demo_state: MarketState) -> None:
    state = demo_state.model_copy(update={"ticker": "SPY"})
    chain = compute_gex(_chain(), 100.0, dt.datetime(2026, 1, 5, 15, 30, tzinfo=dt.UTC))
    lines = gex_lines(state, chain)
    assert lines[0].startswith(f"SPY dealer gamma on {state.as_of}")
    assert "SPY option chain as of 2026-01-05 15:30" in "\n".join(lines)
    assert not any("IWM" in line for line in lines)
    assert any("demo (synthetic)" in line and "last value" in line for line in lines)
    assert any(line.startswith("Expected move, tomorrow: 68%") for line in lines)
    assert "GEX by expiry (the 2 largest):" in lines
    assert any(line.startswith("  2026-01-16: net ") for line in lines)


def test_the_chat_markdown_keeps_every_line_apart(demo_state: MarketState) -> None:
    lines = gex_lines(demo_state)
    text = as_markdown(["Head_line *x*", "a_b", "  nested"])
    assert text == "Head\\_line \\*x\\*\n\n* a\\_b\n    * nested"
    rendered = as_markdown(lines).splitlines()
    assert rendered[0] == lines[0] and rendered[1] == ""
    assert rendered[2:] == [f"* {line}" for line in lines[1:]]


def test_levels_text_lists_every_key_level(demo_state: MarketState) -> None:
    text = levels_text(demo_state)
    assert text.startswith(f"Key levels for the session after {demo_state.as_of}")
    for level in demo_state.key_levels:
        assert f"* {level.name}: " in text
