"""The CLI parser imports only the module of the command being run."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

import pytest

from bot.cli import COMMANDS, build_parser, main


def _choices(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_the_command_table_matches_what_the_modules_register() -> None:
    action = _choices(build_parser())  # every module imported and registered
    registered = [(a.dest, a.help) for a in action._choices_actions]
    assert registered == [(name, help) for name, _, help in COMMANDS]
    for name, module, _ in COMMANDS:
        assert action.choices[name].get_default("func").__module__ == module, name


def test_top_level_help_lists_every_command_with_its_help() -> None:
    text = build_parser([]).format_help()
    for name, _, help in COMMANDS:
        assert name in text, name
        assert " ".join(help.split()[:4]) in " ".join(text.split()), name


@pytest.mark.parametrize("command", ["forecast", "audit", "status"])
def test_only_the_named_command_module_is_imported(command: str) -> None:
    code = textwrap.dedent(
        f"""
        import json, sys
        from bot.cli import build_parser
        parser = build_parser(["-v", {command!r}, "--help-not-parsed"])
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("bot."))))
        print(json.dumps("importlib.metadata" in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    modules, metadata = out.stdout.splitlines()
    loaded = set(json.loads(modules))
    module = next(m for name, m, _ in COMMANDS if name == command)
    assert module in loaded
    others = {m for _, m, _ in COMMANDS} - {module}
    # forecast_cmds holds the data options that other command modules reuse.
    others.discard("bot.cli.forecast_cmds")
    assert not (others & loaded), others & loaded
    assert json.loads(metadata) is False  # --version reads it only when asked


def test_a_command_runs_through_main_with_its_full_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema"]) == 0
    assert '"properties"' in capsys.readouterr().out
