"""Results as tables: one set of cells for the terminal, Discord and the chat."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.views.tables import audit_table, render_text, signals_text
from engine.audit import audit_frames
from engine.state import MarketState
from tests.rule_specs import spec


def _audit():
    rng = np.random.default_rng(7)
    n = 300
    idx = pd.bdate_range("2021-01-04", periods=n, name="date")
    close = 100 * np.exp(np.cumsum(rng.normal(0.0004, 0.012, n)))
    frame = pd.DataFrame({"adj_close": close, "vix": rng.uniform(12, 30, n)}, index=idx)
    frame["gex"] = np.nan
    fwd = {h: np.r_[close[h:] / close[:-h] - 1, np.full(h, np.nan)] for h in (1, 5)}
    fires = pd.DataFrame({"Often": rng.random(n) < 0.4}, index=idx)
    specs = [spec("Often", 1, "bullish", {5: (0.86, 0.0267)})]
    return audit_frames(frame, fires, fwd, specs, high_vix=20.0, n_boot=100)


def test_compact_rendering_keeps_the_same_cells() -> None:
    table = audit_table(_audit())
    full, compact = render_text(table), render_text(table, compact=True)
    row = table.rows[1]  # Often at 5 days
    for cell in (row[0], row[4], row[5], row[11], row[12]):  # rule, win, base, claim, verdict
        assert cell in full and cell in compact
    assert row[7] in full and row[7] not in compact  # the mean's interval only when wide
    assert "86% / +2.67%" in compact
    lines = compact.splitlines()
    assert len(lines[2]) == max(len(line) for line in lines[1:4])  # the rule spans the columns


def test_missing_values_read_the_same_everywhere(demo_state: MarketState) -> None:
    table = audit_table(_audit())
    assert all(cell != "-" for row in table.rows for cell in row)  # "n/a", never a bare dash
    text = signals_text(demo_state)
    assert "[Tier 1] Golden_Setup" in text and "ok = condition holds" in text
