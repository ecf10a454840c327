"""Fixtures for the bot package: settings isolated from the user's environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import Settings, load_settings
from engine.build import build_state
from engine.demo import demo_dataset
from engine.state import MarketState
from tests.bot.fake_openai import FakeOpenAI

_ENV_PREFIXES = ("IWM_", "OPENAI_", "DISCORD_", "LLM_")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's .env or keys; data goes to a temporary folder."""
    import os

    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IWM_DATA_DIR", str(tmp_path / "data"))
    # The user's ~/.config/iwm-analyst/.env is read too: point it at an empty folder.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def demo_state() -> MarketState:
    return build_state(demo_dataset())


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A scripted OpenAI-compatible server on 127.0.0.1 (see fake_openai.py)."""
    server = FakeOpenAI().start()
    yield server
    server.stop()
