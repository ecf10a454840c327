from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from bot.audit_plot import write_audit_plot
from bot.cli.audit_cmds import print_audit, print_scorecard
from engine.audit import RuleSpec, audit_frames
from engine.sources.ledger import Scorecard


def _table():
    rng = np.random.default_rng(42)
    n = 400
    idx = pd.bdate_range("2020-01-02", periods=n, name="date")
    close = 100 * np.exp(np.cumsum(rng.normal(0.0004, 0.012, n)))
    frame = pd.DataFrame(
        {"adj_close": close, "vix": rng.uniform(12, 30, n), "gex": rng.normal(0, 1, n)},
        index=idx,
    )
    fwd = {h: np.r_[close[h:] / close[:-h] - 1, np.full(h, np.nan)] for h in (1, 5)}
    fires = pd.DataFrame({"Often": rng.random(n) < 0.4, "Never": np.zeros(n, bool)}, index=idx)
    specs = [
        RuleSpec("Often", 1, "bullish", {5: (0.86, 0.0267)}),
        RuleSpec("Never", 3, "bullish"),
    ]
    return audit_frames(frame, fires, fwd, specs, n_boot=200, notes=("GEX is a stand-in",))


def test_print_audit_shows_measurement_beside_claim() -> None:
    console = Console(record=True, width=220)
    table = _table()
    print_audit(table, console)
    text = console.export_text()
    assert "Playbook audit" in text
    often5 = next(r.stats for r in table.rows if r.rule == "Often" and r.stats.horizon == 5)
    assert f"{often5.win_rate * 100:.0f}%" in text
    assert "86%" in text and "+2.67%" in text
    assert often5.verdict in text
    assert "split by regime" in text and "VIX >= 20" in text
    assert "note: GEX is a stand-in" in text


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = write_audit_plot(_table(), tmp_path / "sub" / "audit.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_scorecard_without_outcomes() -> None:
    console = Console(record=True, width=120)
    print_scorecard(
        Scorecard(recorded=2, filled=0, pending=2, synthetic_excluded=0, scores=()), console
    )
    assert "No forecast has an outcome yet" in console.export_text()
