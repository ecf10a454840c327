"""The CLI end to end, through ``bot.cli.main`` as a user would call it."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.settings import env_files, load_settings
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


# --- help, version, status and settings files ------------------------------------------
def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_has_a_description_and_examples() -> None:
    commands = _subcommands()
    assert len(commands) >= 14
    for name, sub in commands.items():
        text = sub.format_help()
        assert sub.description and len(sub.description) > 30, name
        assert "examples:" in text, name
        examples = [ln.strip() for ln in text.split("examples:", 1)[1].splitlines() if ln.strip()]
        assert examples, name
        for line in examples:
            command = line.rsplit("| ", 1)[-1]  # a pipe into the command counts
            assert re.match(rf"iwm-analyst {name}(\s|$)", command), (name, line)


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"iwm-analyst {version('iwm-analyst')}"


def test_env_files_user_folder_and_current_folder_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    user = tmp_path / "config" / "iwm-analyst" / ".env"  # XDG_CONFIG_HOME from conftest
    user.parent.mkdir(parents=True)
    user.write_text("IWM_HIGH_VIX=25\nOPENAI_API_KEY=sk-user-SECRET-1\n", encoding="utf-8")
    assert load_settings().high_vix == 25  # read from the user's folder alone
    assert env_files() == (user,)
    (tmp_path / ".env").write_text("IWM_HIGH_VIX=30\n", encoding="utf-8")  # cwd is tmp_path
    assert load_settings().high_vix == 30  # the current folder's .env wins
    monkeypatch.setenv("IWM_HIGH_VIX", "35")
    assert load_settings().high_vix == 35  # and the environment wins over both
    monkeypatch.delenv("IWM_HIGH_VIX")

    code, out, _ = run(capsys, "status", "--demo")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("settings read from:"))
    assert line.index(str(user)) < line.index(str(tmp_path / ".env"))
    assert "SECRET" not in out and "sk-user" not in out  # paths only, never values
    assert "narrator: model gpt-4o-mini" in out and "data as of 2025-12-31" in out


def test_status_without_env_files(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--demo")
    assert code == 0 and "settings: environment only" in out
    assert "narrator: offline template" in out


def test_bot_without_network_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    import discord.http

    with socket.socket() as s:  # a port that refuses connections
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    monkeypatch.setenv("DISCORD_TOKEN", "MTIz.not-a-real.token")
    code, out, err = run(capsys, "bot")
    assert code == 1
    assert err.strip() == (
        f"error: cannot reach Discord (127.0.0.1:{port}: connection refused): check the network"
    )
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    assert "MTIz" not in err + out


def test_update_offline_says_nothing_was_updated(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("IWM_YAHOO_CHART_URL", dead + "/chart/{symbol}")
    monkeypatch.setenv("IWM_STOOQ_URL", dead + "/stooq")
    monkeypatch.setenv("IWM_CBOE_VIX_URL", dead + "/VIX_History.csv")
    monkeypatch.setenv("IWM_HTTP_TIMEOUT", "1")
    code, out, err = run(capsys, "update", "--only", "prices", "--only", "vix")
    assert code == 1, err
    assert "nothing was updated" in out
    assert "failed: prices (the connection was refused)" in out
    assert "failed: vix (the connection was refused)" in out
    assert "the others were updated" not in out
    assert "last completed NYSE session" in out  # named from the calendar and the clock
