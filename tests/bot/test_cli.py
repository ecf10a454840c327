"""The CLI end to end, through ``bot.cli.main`` as a user would call it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from engine.state import MarketState


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_forecast_prints_full_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "forecast", "--demo", "--offline")
    assert code == 0, err
    for section in ("Current Market State", "Active Signals", "Immediate (Tomorrow)"):
        assert section in out
    assert "Short Term (Next 5 Days)" in out and "Strategy" in out
    assert "SYNTHETIC DEMO DATA" in out


def test_json_is_a_market_state(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "forecast", "--demo", "--json", "--as-of", "2024-08-05")
    assert code == 0
    state = MarketState.model_validate_json(out)
    assert state.as_of.isoformat() == "2024-08-05"
    assert state.synthetic


def test_signals_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "signals", "--demo")
    assert code == 0
    for name in (
        "Negative_GEX_AND_High_VIX",
        "Golden_Setup",
        "GEX_Turned_Positive",
        "GEX_Negative",
        "BB_Breakout_Lower",
        "RSI_Extreme",
        "DarkPool_Bullish",
    ):
        assert name in out
    assert "rsi14 (" in out


def test_signals_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "signals", "--demo", "--json")
    doc = json.loads(out)
    assert code == 0 and len(doc["rules"]) == 7
    assert all("conditions" in r and "fired" in r for r in doc["rules"])


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert json.loads(out)["title"] == "MarketState"


def test_real_files_combined(capsys: pytest.CaptureFixture[str], raw_data_dir: Path) -> None:
    code, out, err = run(
        capsys,
        "forecast",
        "--csv",
        str(raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv"),
        "--vix",
        str(raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv"),
        "--gex",
        str(raw_data_dir / "squeezemetrics_dix" / "DIX.csv"),
        "--as-of",
        "2024-08-05",
        "--offline",
    )
    assert code == 0, err
    assert "2024-08-05" in out
    assert "stand-in" in out  # the SPX GEX caveat is shown
    assert "SYNTHETIC" not in out


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("Date,Px\n2024-01-02,1\n", "column 'close' not found"),
        ("Date,Close\nnot-a-date,1\n2024-01-03,2\n", "row 1"),
        ("", "empty"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, needle: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, out, err = run(capsys, "forecast", "--csv", str(path))
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_missing_file_and_bad_date(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "forecast", "--csv", "does-not-exist.csv")
    assert code == 2 and "not found" in err
    with pytest.raises(SystemExit) as exc:
        main(["forecast", "--demo", "--as-of", "2024-02-31"])
    assert exc.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_as_of_outside_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "forecast", "--demo", "--as-of", "2031-01-01")
    assert code == 2
    assert "ends on" in err
