"""A lock beside the store file that serialises ``update`` runs.

Two updates at once would download the same files twice and race on the raw-file cache;
the second one waits up to ``wait`` seconds for the first, then gives up with a message
saying another update is running. The lock is an OS file lock (``flock`` on POSIX,
``msvcrt.locking`` on Windows) on ``<database>.update-lock``, so it is released when
the process holding it ends, however it ends: a crashed update never blocks the next.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from engine.errors import StoreError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1


class UpdateBusy(StoreError):
    """Another process holds the update lock of this store."""


def _try_lock(fh: IO[str]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def update_lock(database: str | Path, wait: float = 30.0) -> Iterator[None]:
    """Hold the update lock of ``database`` for the block (no lock for ``:memory:``).

    Raises :class:`UpdateBusy` when another process still holds it after ``wait``
    seconds.
    """
    if str(database) == ":memory:":
        yield
        return
    path = Path(f"{database}.update-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with path.open("a+", encoding="utf-8") as fh:
        while not _try_lock(fh):
            if time.monotonic() >= deadline:
                raise UpdateBusy(
                    f"another 'iwm-analyst update' is running on {database} (waited "
                    f"{wait:g} s); try again when it has finished"
                )
            time.sleep(POLL_SECONDS)
        log.debug("update lock taken by pid %s", os.getpid())
        try:
            yield
        finally:
            if sys.platform != "win32":
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
