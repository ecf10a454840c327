from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from bot.audit_plot import write_audit_plot
from bot.cli.audit_cmds import print_audit, print_scorecard
from engine.audit import audit_frames
from sources.ledger import Scorecard
from tests.rule_specs import spec


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
        spec("Often", 1, "bullish", {5: (0.86, 0.0267)}),
        spec("Never", 3, "bullish"),
    ]
    return audit_frames(
        frame, fires, fwd, specs, high_vix=20.0, n_boot=200, notes=("GEX is a stand-in",)
    )


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


# --- end to end through the CLI ------------------------------------------------------


def _data_args(raw: Path) -> list[str]:
    return [
        "--csv",
        str(raw / "guydekowski_market-lab" / "IWM.csv"),
        "--vix",
        str(raw / "noodles-rice_vix_dashboard" / "VIX_History.csv"),
        "--gex",
        str(raw / "squeezemetrics_dix" / "DIX.csv"),
    ]


def test_audit_command_demo_json_and_plot(tmp_path, monkeypatch, capsys) -> None:
    import json

    from bot.cli import main

    monkeypatch.setenv("IWM_DB_PATH", str(tmp_path / "db.sqlite3"))
    png = tmp_path / "a.png"
    assert main(["audit", "--demo", "--json", "--plot", str(png), "--seed", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["seed"] == 3 and len(data["rows"]) == 14
    assert any("synthetic" in n for n in data["notes"])
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--demo", "--as-of", "not-a-date"])
    assert exc.value.code == 2


def test_forecast_is_recorded_and_scored(raw_data_dir, tmp_path, monkeypatch, capsys) -> None:
    """A live forecast (data ending on the last completed session, by the service's clock)
    is recorded once; a replay is not; the scorecard fills its outcome from later data."""
    import datetime as dt

    import pandas as pd

    from bot.cli import main
    from bot.service import AnalystService, DataRequest
    from bot.settings import load_settings
    from sources.ledger import Ledger

    db = tmp_path / "db.sqlite3"
    monkeypatch.setenv("IWM_DB_PATH", str(db))
    iwm = raw_data_dir / "guydekowski_market-lab" / "IWM.csv"
    cut = tmp_path / "IWM_to_0810.csv"
    frame = pd.read_csv(iwm)
    frame[frame["date"] <= "2026-08-10"].to_csv(cut, index=False)
    after_close = dt.datetime(2026, 8, 10, 21, 30, tzinfo=dt.UTC)
    service = AnalystService(load_settings(), clock=lambda: after_close)
    service.forecast(DataRequest(csv=cut), offline=True)
    service.forecast(DataRequest(csv=cut), offline=True)  # a repeat: nothing new
    # a replay of the same day on the full file is not a live forecast
    assert main(["forecast", *_data_args(raw_data_dir), "--offline", "--as-of", "2026-08-10"]) == 0
    with Ledger(db) as led:
        rows = led.entries()
    assert [(r.as_of.isoformat(), r.horizon, r.source) for r in rows] == [
        ("2026-08-10", 1, "cli"),
        ("2026-08-10", 5, "cli"),
    ]
    capsys.readouterr()
    assert main(["scorecard", *_data_args(raw_data_dir)]) == 0
    out = capsys.readouterr().out
    assert "2 forecasts recorded, 2 with an outcome" in out and "Live track record" in out


def test_demo_forecast_not_recorded_and_ledger_failure_harmless(
    tmp_path, monkeypatch, caplog
) -> None:
    import datetime as dt

    from bot.cli import main

    monkeypatch.setenv("IWM_DB_PATH", str(tmp_path / "db.sqlite3"))
    assert main(["forecast", "--demo", "--offline"]) == 0
    assert not (tmp_path / "db.sqlite3").exists()
    # a database path that cannot be opened: the forecast still works, with a warning
    from bot.service import AnalystService, DataRequest
    from bot.settings import load_settings

    blocker = tmp_path / "file"
    blocker.write_text("x")
    service = AnalystService(load_settings(IWM_DB_PATH=str(blocker / "db.sqlite3")))
    state = service.state(DataRequest(demo=True))
    live = state.model_copy(update={"synthetic": False})
    service.clock = lambda: dt.datetime.combine(state.as_of, dt.time(22), tzinfo=dt.UTC)
    service._record(live, state.as_of, "cli")
    assert "not recorded in the ledger" in caplog.text


def test_walkforward_command_demo(tmp_path, monkeypatch, capsys) -> None:
    from bot.cli import main

    monkeypatch.setenv("IWM_DB_PATH", str(tmp_path / "db.sqlite3"))
    png = tmp_path / "wf.png"
    assert main(["walkforward", "--demo", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "base rate" in out and "always up" in out and "Calibration" in out
    assert "1-day: the forecast " in out and "95% block bootstrap" in out
    assert "Reliability by confidence level" in out and "how often the realised move" in out
    assert "low-confidence days by reason" in out and "synthetic demo data" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["walkforward", "--demo", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"verdict", "by_confidence", "deciles", "coverage"} <= set(data["scores"][0])
    assert main(["walkforward", "--demo", "--warmup", "10"]) == 2
