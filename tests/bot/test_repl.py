"""The terminal chat: commands with or without ! and /, questions, errors, and a real
terminal (a pseudo-tty) with line editing and a history kept between sessions."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.chat import COMMANDS, run_chat
from bot.service import AnalystService, DataRequest
from bot.settings import Settings

DEMO = DataRequest(demo=True)


def chat(settings: Settings, lines: str, tmp_path: Path, req: DataRequest = DEMO) -> str:
    out = io.StringIO()
    status = run_chat(
        AnalystService(settings), req, io.StringIO(lines), out, chart_dir=tmp_path / "charts"
    )
    assert status == 0
    return out.getvalue()


def test_every_command_with_or_without_a_prefix(settings: Settings, tmp_path: Path) -> None:
    text = chat(
        settings,
        "help\n!signals\n/gex\nLEVELS\nexplain golden\n/status\nchart\nforecast\nquit\nsignals\n",
        tmp_path,
    )
    for name, _ in COMMANDS:
        assert name in text  # the help lists every command
    assert text.count("IWM signals on 2025-12-31") == 1  # once: nothing runs after quit
    assert "IWM dealer gamma on 2025-12-31" in text and "Expected move, tomorrow" in text
    assert "Key levels for the session after 2025-12-31" in text
    assert "Golden_Setup (Tier 1, bullish)" in text
    assert "narrator: offline template" in text and "settings:" in text
    png = tmp_path / "charts" / "iwm-chart-2025-12-31.png"
    assert f"chart written to {png}" in text and png.read_bytes()[:4] == b"\x89PNG"
    assert "Immediate (Tomorrow)" in text


def test_markdown_is_rendered_and_piped_output_has_no_escape_codes(
    settings: Settings, tmp_path: Path
) -> None:
    text = chat(settings, "forecast\nexplain RSI_Extreme\n", tmp_path)
    assert "**" not in text and "`RSI_Extreme`" not in text  # rendered, not raw markdown
    assert "Current Market State:" in text and "RSI_Extreme (Tier 3" in text
    assert "\x1b" not in text
    assert "iwm>" not in text  # no prompt when the input is not a terminal


def test_other_lines_are_questions_with_memory(settings: Settings, tmp_path: Path) -> None:
    text = chat(
        settings,
        "what is RSI?\nforecast for friday?\nask what's the call wall?\nhelp me read the VIX\n",
        tmp_path,
    )
    assert "relative strength index" in text
    assert "Tomorrow: Neutral, P(up)" in text  # 'forecast ...' with words is a question
    assert "no call wall for 2025-12-31" in text
    assert "CBOE volatility index" in text  # 'help me ...' is a question too


def test_errors_are_one_line_and_the_prompt_comes_back(settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    text = chat(
        settings,
        f"explain\nexplain nothing-like-a-rule\nchart {blocker}/x.png\nsignals\n",
        tmp_path,
    )
    assert "error: explain which rule? Rules: Negative_GEX_AND_High_VIX" in text
    assert "error: no rule called 'nothing-like-a-rule'" in text
    assert f"error: cannot write {blocker}/x.png" in text
    assert "IWM signals on 2025-12-31" in text  # still answering after the errors
    assert "Traceback" not in text


def test_missing_data_is_an_error_line_not_a_crash(settings: Settings, tmp_path: Path) -> None:
    req = DataRequest(csv=tmp_path / "missing.csv")
    text = chat(settings, "signals\nstatus\n", tmp_path, req)
    assert text.count("error:") >= 2 and "not found" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("columns", [80, 100])
def test_audit_and_scorecard_fit_the_terminal(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    text = chat(settings, "audit\nscorecard\n", tmp_path)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= columns
    for word in ("contradicted", "Golden_Setup", "GEX_Turned_Positive"):
        assert word in text  # whole, not cut at the edge
    assert "No forecast has an outcome yet" in text or "recorded" in text


# --- a real terminal ------------------------------------------------------------------
def _read_until(fd: int, needle: bytes, seconds: float = 60.0) -> bytes:
    seen = b""
    end = time.monotonic() + seconds
    while needle not in seen:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not seen; got {seen[-400:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            seen += chunk
    return seen


def _session(tmp_path: Path, keys: list[bytes]) -> bytes:
    """Run ``iwm-analyst chat --demo`` on a pseudo-terminal and type ``keys``."""
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "COLUMNS": "100",
        "TERM": "xterm",
    }
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--demo"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=tmp_path,
        close_fds=True,
    )
    os.close(child)
    try:
        seen = _read_until(main, b"iwm> ")
        for key in keys:
            os.write(main, key)
            if key.endswith(b"\r") and key != b"quit\r":
                seen += _read_until(main, b"iwm> ")
        proc.wait(timeout=30)
        try:
            while True:
                ready, _, _ = select.select([main], [], [], 0.2)
                if not ready:
                    break
                chunk = os.read(main, 4096)
                if not chunk:
                    break
                seen += chunk
        except OSError:
            pass
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    return seen


def test_a_terminal_gets_a_prompt_line_editing_and_history(tmp_path: Path) -> None:
    # 'levelz', Backspace, 's': line editing; then Up arrow recalls 'levels'.
    first = _session(tmp_path, [b"levelz\x7fs\r", b"\x1b[A\r", b"quit\r"])
    assert first.count(b"Key levels for the session after 2025-12-31") == 2
    assert b"^[[A" not in first  # the arrow key edits, it is not printed
    history = tmp_path / "state" / "iwm-analyst" / "chat_history"
    assert "levels" in history.read_text().splitlines()
    # A new session starts with that history: Up recalls the last line of the last one.
    second = _session(tmp_path, [b"\x1b[A\x1b[A\r", b"quit\r"])
    assert b"Key levels for the session after 2025-12-31" in second


def test_chart_with_words_is_a_question_not_a_file(settings: Settings, tmp_path: Path) -> None:
    text = chat(settings, "chart of the last month?\nchart mine.png\n", tmp_path)
    assert not list(tmp_path.glob("**/of the last month*"))
    assert text.count("chart written to") == 1
    assert (tmp_path / "mine.png").read_bytes()[:4] == b"\x89PNG"
