"""The forecast chart, drawn out of the bot's resident memory.

Importing this module does not import matplotlib (a test checks it in a fresh
interpreter). The figure itself is built by :mod:`bot.plots.forecast`, imported only
inside :func:`render_chart`. Entry points:

* :func:`render_chart` draws in this process: for one-shot commands (``iwm-analyst
  chart``) where the process ends right after.
* :class:`ChartWorker` draws in one resident child process (a fresh interpreter, not a
  fork, so it carries none of the bot's threads or sockets); the parent never loads
  matplotlib. A drawing that outlives the deadline is killed with its process and
  raises :class:`~engine.errors.ChartError`; the next drawing starts a fresh child.
* :class:`ChartCache` keeps the PNG bytes of the last few states (key: as-of date and
  the data and playbook fingerprints) and draws each once, through a worker by default.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from bot.once import OnceCache
from engine.errors import ChartError

if TYPE_CHECKING:
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


def warm_up(history: object, state: object) -> bytes:
    """Import the plotting code (matplotlib) and draw nothing: sent to a worker by
    :meth:`ChartWorker.start` so that its first chart is drawn at full speed."""
    import bot.plots.forecast  # noqa: F401

    return b""


_HEADER = struct.Struct(">Q")  # the byte length of the pickle that follows
_WORKER_CODE = "from bot.chart import serve; serve()"


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def serve() -> None:
    """The worker's loop, run as ``python -c "from bot.chart import serve; serve()"``.

    Reads framed pickles ``(render_fn, history, state)`` on stdin and answers each with
    ``(True, png)`` or ``(False, why)`` on stdout; ends when stdin closes (the parent
    closed the pipe or died). Stray prints go to stderr, never into the answers.
    """
    inp = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    while True:
        try:
            (size,) = _HEADER.unpack(_read_exact(inp, _HEADER.size))
            render_fn, history, state = pickle.loads(_read_exact(inp, size))
        except EOFError:
            return
        try:
            reply: tuple[bool, bytes | str] = (True, render_fn(history, state))
        except Exception as exc:  # reported to the parent; the worker lives on
            reply = (False, f"{type(exc).__name__}: {exc}")
        try:
            out.write(_frame(reply))
            out.flush()
        except OSError:
            return


class ChartWorker:
    """Draws charts in one resident child process, one at a time, each under a deadline.

    The child is a fresh interpreter running :func:`serve` (not a fork, and not
    multiprocessing's spawn, which re-runs an unguarded ``__main__`` script in the
    child), so it carries none of the bot's threads, sockets or state. It starts on the
    first :meth:`render` (or :meth:`start`, to pay its start-up before anyone waits) and
    serves every later one. ``render_fn`` must be a module-level function (it is
    pickled by reference); the default is :func:`render_chart`. Thread-safe: concurrent
    callers queue.
    """

    def __init__(
        self, timeout: float = DEFAULT_TIMEOUT, render_fn: Renderer = render_chart
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self._render_fn = render_fn
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs, else None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self, *, warm: bool = False) -> None:
        """Start the child now (no-op when it runs).

        With ``warm``, also wait (within :attr:`timeout`) until the child has imported
        the plotting code (:func:`warm_up`), the bulk of a first drawing's start-up, so
        the first caller does not pay it. Raises :class:`ChartError` as :meth:`render`.
        """
        with self._lock:
            proc = self._ensure()
            if warm:
                self._exchange(proc, warm_up, None, None)

    def render(self, history: History, state: MarketState) -> bytes:
        """PNG bytes of the chart, drawn by the child within :attr:`timeout` seconds.

        Raises :class:`ChartError` when the drawing fails, when the child dies, or when
        the deadline passes (the child is then killed; the next call starts another).
        """
        with self._lock:
            return self._exchange(self._ensure(), self._render_fn, history, state)

    def _exchange(
        self, proc: subprocess.Popen[bytes], fn: Callable[..., bytes], *args: object
    ) -> bytes:
        """Send one call to the child and return its answer (the caller holds the lock)."""
        deadline = time.monotonic() + self.timeout
        try:
            self._send(proc, _frame((fn, *args)), deadline)
            ok, payload = self._receive(proc, deadline)
        except TimeoutError:
            log.warning("chart worker %s passed %.1f s; killed", proc.pid, self.timeout)
            self._stop()
            raise ChartError(
                f"the chart was not drawn within {self.timeout:g} s and was stopped"
            ) from None
        except (EOFError, OSError) as exc:
            self._stop()
            raise ChartError(
                f"the chart worker stopped unexpectedly (exit code {proc.returncode})"
            ) from exc
        if not ok or not isinstance(payload, bytes):
            # The worker's "ExcType: message" is for the log; users get one plain line.
            log.error("chart worker failed: %s", payload)
            raise ChartError("the chart could not be drawn; the details are in the log")
        return payload

    def close(self) -> None:
        """Stop the child (a later :meth:`render` starts a new one)."""
        with self._lock:
            self._stop()

    @staticmethod
    def _send(proc: subprocess.Popen[bytes], data: bytes, deadline: float) -> None:
        assert proc.stdin is not None
        fd = proc.stdin.fileno()
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise TimeoutError
            view = view[os.write(fd, view) :]

    @staticmethod
    def _receive(proc: subprocess.Popen[bytes], deadline: float) -> tuple[bool, bytes | str]:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        buf = bytearray()
        size: int | None = None
        while size is None or len(buf) < _HEADER.size + size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                proc.poll()
                raise EOFError
            buf += chunk
            if size is None and len(buf) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(buf)
        reply: tuple[bool, bytes | str] = pickle.loads(bytes(buf[_HEADER.size :]))
        return reply

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._stop()
        # The child sees this process's import path, so render_fn's module imports there.
        path = os.pathsep.join(p for p in sys.path if p)
        env = {**os.environ, "PYTHONPATH": path}
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            bufsize=0,
            close_fds=True,
        )
        assert proc.stdin is not None
        os.set_blocking(proc.stdin.fileno(), False)
        self._proc = proc
        log.info("chart worker started (pid %s)", proc.pid)
        return proc

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
            log.error("chart worker %s did not exit after SIGKILL", proc.pid)


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

    def start(self) -> None:
        """Start the worker and load its plotting code now (no-op without a worker).

        Blocks for the worker's start-up (about 2 s): call it from a thread."""
        if self.worker is not None:
            self.worker.start(warm=True)

    def close(self) -> None:
        """Stop the worker, if this cache started one."""
        if self.worker is not None:
            self.worker.close()
