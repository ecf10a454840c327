"""Prompt and report templates, shipped as package data.

Every text file here is read through :func:`text` (``importlib.resources``), so a
wheel installed anywhere renders reports exactly as a source checkout does. Code never
inlines prompt prose; wording changes are edits to these files.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib.resources import files
from typing import Any


@lru_cache(maxsize=32)
def text(name: str) -> str:
    """The UTF-8 text of the template file ``name`` (e.g. ``"report.md"``)."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=8)
def table(name: str) -> dict[str, Any]:
    """A TOML template file (e.g. ``"report_phrases.toml"``) as a dict."""
    return tomllib.loads(text(name))
