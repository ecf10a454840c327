"""What the terminal's ``status`` shows: data freshness, narrator, settings files, store.

Plain lines for the CLI ``status`` command and the terminal chat. Settings files are
named by path only; no value read from them is ever shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings, env_files, user_env_file

if TYPE_CHECKING:
    from engine.state import MarketState


def settings_files_line(files: Sequence[Path] | None = None) -> str:
    """Which ``.env`` files were read, highest priority last; paths only."""
    found = env_files() if files is None else tuple(files)
    if not found:
        return f"settings: environment only (no .env here or at {user_env_file()})"
    names = ", ".join(str(p.resolve()) for p in found)
    return f"settings read from: {names}" + (" (the last wins)" if len(found) > 1 else "")


def narrator_line(settings: Settings) -> str:
    if settings.openai_api_key is None:
        return "narrator: offline template (set OPENAI_API_KEY for a model)"
    where = "a custom OPENAI_BASE_URL" if settings.openai_base_url else "the default endpoint"
    return f"narrator: model {settings.openai_model} at {where}"


def data_lines(state: MarketState) -> list[str]:
    lines = [f"data as of {state.as_of}" + (" (synthetic demo)" if state.synthetic else "")]
    for p in state.provenance:
        age = f", {p.stale_days} trading days old" if (p.stale_days or 0) > 1 else ""
        lines.append(f"  {p.series}: {p.source}, last {p.last_date}{age}")
    return lines


def token_line(settings: Settings, today: dt.date) -> str:
    """Today's model token use against the daily budget (a model must be configured)."""
    from bot.narrator.cache import ReplyCache

    cache = ReplyCache(settings.database)
    try:
        used = cache.tokens_on(today.isoformat())
    finally:
        cache.close()
    return f"model tokens today: {used:,} of {settings.llm_daily_token_budget:,}"


def status_lines(
    settings: Settings, state: MarketState | None, today: dt.date | None = None
) -> list[str]:
    """The status report; ``state`` None when there is no data to describe yet."""
    lines = data_lines(state) if state is not None else ["data: none yet (run 'update')"]
    lines.append(narrator_line(settings))
    if settings.openai_api_key is not None and today is not None:
        lines.append(token_line(settings, today))
    lines.append(f"store: {settings.database}")
    lines.append(settings_files_line())
    return lines
