"""The forecast chart, drawn out of the bot's resident memory.

Importing this module does not import matplotlib (a test checks it in a fresh
interpreter). The figure itself is built by :mod:`bot.plots.forecast`, imported only
inside :func:`render_chart`. Entry points:

* :func:`render_chart` draws in this process: for one-shot commands (``iwm-analyst
  chart``) where the process ends right after.
* :class:`ChartWorker` draws in one resident child process (spawned, not forked, so it
  carries none of the bot's threads or sockets); the parent never loads matplotlib. A
  drawing that outlives the deadline is killed with its process and raises
  :class:`~engine.errors.ChartError`; the next drawing starts a fresh child.
* :class:`ChartCache` keeps the PNG bytes of the last few states (key: as-of date and
  the data and playbook fingerprints) and draws each once, through a worker by default.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.once import OnceCache
from engine.errors import ChartError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from engine.prepared import History, Prepared
    from engine.state import MarketState

log = logging.getLogger(__name__)

#: Output size of :func:`render_chart`, pixels (kept here so callers need no matplotlib).
WIDTH_PX, HEIGHT_PX = 1200, 1100
#: Seconds a worker may take for one chart, its start-up (about 2 s) included.
DEFAULT_TIMEOUT = 20.0
#: Charts kept by :class:`ChartCache` (a PNG is about 150 KB).
CACHE_SIZE = 8

Renderer = Callable[["History", "MarketState"], bytes]


def render_chart(history: History, state: MarketState) -> bytes:
    """PNG bytes (WIDTH_PX x HEIGHT_PX) of the sessions in ``history``
    (:meth:`engine.prepared.Prepared.history`), drawn in this process."""
    from bot.plots.forecast import render_png

    return render_png(history, state)


def _serve(conn: Connection, render: Renderer) -> None:
    """The worker's loop: ``(history, state)`` in, ``(True, png)`` or ``(False, why)``
    out. It ends when the parent closes the pipe (or dies)."""
    while True:
        try:
            history, state = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[bool, bytes | str] = (True, render(history, state))
        except Exception as exc:  # reported to the parent; the worker lives on
            reply = (False, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except OSError:
            return


class ChartWorker:
    """Draws charts in one resident child process, one at a time, each under a deadline.

    The child is started on the first :meth:`render` (or by :meth:`start`, to pay its
    start-up before anyone waits) and serves every later one. ``render_fn`` must be a
    module-level function (it is pickled to the child); the default is
    :func:`render_chart`. Thread-safe: concurrent callers queue.
    """

    def __init__(
        self, timeout: float = DEFAULT_TIMEOUT, render_fn: Renderer = render_chart
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self._render_fn = render_fn
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs, else None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    def start(self) -> None:
        """Start the child now (no-op when it runs)."""
        with self._lock:
            self._ensure()

    def render(self, history: History, state: MarketState) -> bytes:
        """PNG bytes of the chart, drawn by the child within :attr:`timeout` seconds.

        Raises :class:`ChartError` when the drawing fails, when the child dies, or when
        the deadline passes (the child is then killed; the next call starts another).
        """
        with self._lock:
            conn = self._ensure()
            try:
                conn.send((history, state))
                if not conn.poll(self.timeout):
                    log.warning("chart worker %s passed %.1f s; killed", self.pid, self.timeout)
                    self._stop()
                    raise ChartError(
                        f"the chart was not drawn within {self.timeout:g} s and was stopped"
                    )
                ok, payload = conn.recv()
            except (EOFError, OSError) as exc:
                code = self._proc.exitcode if self._proc is not None else None
                self._stop()
                raise ChartError(
                    f"the chart worker stopped unexpectedly (exit code {code})"
                ) from exc
        if not ok:
            raise ChartError(f"the chart could not be drawn: {payload}")
        assert isinstance(payload, bytes)
        return payload

    def close(self) -> None:
        """Stop the child (a later :meth:`render` starts a new one)."""
        with self._lock:
            self._stop()

    def _ensure(self) -> Connection:
        if self._proc is not None and self._conn is not None and self._proc.is_alive():
            return self._conn
        self._stop()
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_serve, args=(child, self._render_fn), name="chart-worker", daemon=True
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        log.info("chart worker started (pid %s)", proc.pid)
        return parent

    def _stop(self) -> None:
        conn, proc = self._conn, self._proc
        self._conn = self._proc = None
        if conn is not None:
            conn.close()
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=5)


class ChartCache:
    """Draws each (data, day) chart once; concurrent requests wait for that drawing.

    A chart depends only on the data up to the as-of day, which ``inputs_hash`` and
    ``playbook_version`` fingerprint, so a morning of ``!forecast`` needs one drawing.
    At most ``size`` PNGs are kept. ``renderer`` defaults to a :class:`ChartWorker`'s
    :meth:`~ChartWorker.render`, so matplotlib stays out of this process; a failed or
    timed-out drawing raises :class:`ChartError` and is not cached.
    """

    def __init__(self, size: int = CACHE_SIZE, renderer: Renderer | None = None) -> None:
        self._png: OnceCache[tuple[str, str, str], bytes] = OnceCache(size)
        self.worker: ChartWorker | None = None
        if renderer is None:
            self.worker = ChartWorker()
            renderer = self.worker.render
        self._render = renderer

    def get(self, prepared: Prepared, state: MarketState) -> bytes:
        key = (state.inputs_hash, state.playbook_version, state.as_of.isoformat())
        return self._png.get(key, lambda: self._render(prepared.history(state.as_of), state))

    def close(self) -> None:
        """Stop the worker, if this cache started one."""
        if self.worker is not None:
            self.worker.close()
