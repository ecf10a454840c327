"""The package map and its dependency rules (README, "For contributors"), enforced.

Every import in a module counts, including those inside functions and under
``TYPE_CHECKING``: a rule that only held at import time would not hold for long.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names)
#: Standard-library modules that would break the engine's purity (I/O, clock, network).
IMPURE_STDLIB = {"sqlite3", "urllib", "socket", "http", "ssl", "subprocess", "asyncio", "time"}
FRONT_ENDS = {"discord", "openai", "rich", "matplotlib", "tenacity", "httpx"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[tuple[str, Path]]:
    base = ROOT / package
    out = []
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out.append((".".join(parts), path))
    return out


def _top(name: str) -> str:
    return name.split(".")[0]


def test_engine_is_pure() -> None:
    allowed = {"numpy", "pandas", "pydantic", "scipy", "engine"} | (STDLIB - IMPURE_STDLIB)
    for module, path in _modules("engine"):
        for name in _imports(path):
            assert _top(name) in allowed, f"{module} imports {name}"


def test_engine_reads_no_clock() -> None:
    for module, path in _modules("engine"):
        text = path.read_text(encoding="utf-8")
        for call in ("datetime.now", "date.today", "time.time(", "utcnow", "perf_counter"):
            assert call not in text, f"{module} reads the clock via {call}"


def test_sources_never_reach_the_front_ends() -> None:
    forbidden = {"bot", "prompts", "discord", "openai", "rich", "matplotlib"}
    for module, path in _modules("sources"):
        for name in _imports(path):
            assert _top(name) not in forbidden, f"{module} imports {name}"


def test_prompts_is_plain_data() -> None:
    for module, path in _modules("prompts"):
        for name in _imports(path):
            assert _top(name) in STDLIB, f"{module} imports {name}"


#: Within ``bot``: which sub-packages a module may not import.
BOT_RULES: dict[str, set[str]] = {
    # formatting is pure: no front-end, no model, no service
    "bot.views": {"bot.cli", "bot.discord_bot", "bot.service", "bot.wiring", "discord", "openai"},
    # narrators write text; they never know who shows it
    "bot.narrator": {"bot.cli", "bot.discord_bot", "bot.service", "bot.wiring", "discord"},
    # the service is transport-agnostic and gets its parts injected
    "bot.service": {"bot.cli", "bot.discord_bot", "bot.wiring", "discord", "rich"},
    "bot.once": {"bot.cli", "bot.discord_bot", "bot.service", "bot.wiring"},
    "bot.settings": {"bot.cli", "bot.discord_bot", "bot.service", "bot.wiring", "bot.narrator"},
    "bot.discord_bot": {"bot.cli", "rich"},
    "bot.chat": {"bot.cli", "bot.discord_bot", "discord"},
    "bot.wiring": {"bot.cli"},
}


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_bot_dependency_rules() -> None:
    for module, path in _modules("bot"):
        for prefix, banned in BOT_RULES.items():
            if not _under(module, prefix):
                continue
            for name in _imports(path):
                hit = [b for b in banned if _under(name, b)]
                assert not hit, f"{module} imports {name} (not allowed in {prefix})"


def test_nothing_outside_the_cli_imports_it() -> None:
    for package in ("engine", "sources", "bot", "prompts"):
        for module, path in _modules(package):
            if _under(module, "bot.cli"):
                continue
            for name in _imports(path):
                assert not _under(name, "bot.cli"), f"{module} imports {name}"


def test_wheel_installs_and_renders_the_offline_report(tmp_path: Path) -> None:
    """A non-editable install carries the prompts and the playbook and writes a report."""
    out = tmp_path / "wheel"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(out.glob("iwm_analyst-*.whl"))
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    # Third-party packages come from this environment's site-packages; the project's
    # own packages only from the installed wheel (PYTHONPATH skips the editable .pth).
    deps = [p for p in sys.path if p.endswith("site-packages")]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("IWM_", "OPENAI_"))},
        "PYTHONPATH": os.pathsep.join([str(target), *deps]),
        "PYTHONSAFEPATH": "1",
        "IWM_DATA_DIR": str(tmp_path / "data"),
    }
    probe = subprocess.run(
        [sys.executable, "-c", "import bot, prompts; print(bot.__file__, prompts.__file__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert str(ROOT) not in probe.stdout and str(target) in probe.stdout
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "forecast", "--demo", "--offline"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Immediate (Tomorrow):" in run.stdout and "Strategy:" in run.stdout


@pytest.mark.parametrize("package", ["engine", "sources", "bot", "prompts"])
def test_every_package_has_a_docstring(package: str) -> None:
    tree = ast.parse((ROOT / package / "__init__.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{package}/__init__.py says nothing about its role"
