"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
RAW_DATA_DIR = (REPO_ROOT / ".." / "shared" / "data" / "raw").resolve()

# The NYSE calendar's day cache (sources.calendar) goes to a temporary folder, not the
# user's cache directory.
os.environ.setdefault("IWM_CACHE_DIR", str(Path(tempfile.gettempdir()) / "iwm-analyst-tests"))


@pytest.fixture(scope="session")
def raw_data_dir() -> Path:
    """The real data files beside the project; tests using it skip on a user's clone."""
    if not RAW_DATA_DIR.is_dir():
        pytest.skip(f"real data folder {RAW_DATA_DIR} is absent (only on the dev machines)")
    return RAW_DATA_DIR
