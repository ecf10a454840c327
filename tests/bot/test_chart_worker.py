"""Charts drawn out of the bot's memory: lazy import, the worker, its deadline, the cache."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.chart import ChartCache, ChartWorker
from engine.build import prepare, state_at
from engine.demo import demo_dataset
from engine.errors import AnalystError, ChartError
from engine.prepared import History, Prepared
from engine.state import MarketState

ROOT = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter at the project root; its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# Module-level so the spawned worker can unpickle them by reference.
def fake_render(history: History, state: MarketState) -> bytes:
    """Stands for the drawing: hangs for ticker HANG, fails for FAIL, else answers."""
    if state.ticker == "HANG":
        time.sleep(600)
    if state.ticker == "FAIL":
        raise ValueError("no candles to draw")
    return f"{os.getpid()} {state.as_of} {len(history.bars)}".encode()


@pytest.fixture(scope="module")
def demo() -> tuple[Prepared, MarketState]:
    prepared = prepare(demo_dataset())
    return prepared, state_at(prepared)


def test_importing_the_bot_does_not_import_matplotlib() -> None:
    out = _fresh(
        """
        import sys
        import bot.chart, bot.wiring, bot.discord_bot.app, bot.cli
        print(sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib"))
        """
    )
    assert out.strip() == "[]"


def test_the_worker_draws_the_real_chart_and_the_parent_never_loads_matplotlib() -> None:
    out = _fresh(
        """
        import os, struct, sys
        from bot.chart import HEIGHT_PX, WIDTH_PX, ChartCache
        from engine.build import prepare, state_at
        from engine.demo import demo_dataset

        prepared = prepare(demo_dataset())
        state = state_at(prepared)
        cache = ChartCache()
        png = cache.get(prepared, state)
        assert png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        assert struct.unpack(">II", png[16:24]) == (WIDTH_PX, HEIGHT_PX)
        assert cache.worker is not None and cache.worker.pid not in (None, os.getpid())
        assert cache.get(prepared, state) is png
        cache.close()
        print(len(png), sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib"))
        """
    )
    size, loaded = out.split(" ", 1)
    assert int(size) > 50_000 and loaded.strip() == "[]"


def test_a_hanging_drawing_is_killed_at_the_deadline(
    demo: tuple[Prepared, MarketState],
) -> None:
    prepared, state = demo
    worker = ChartWorker(timeout=3.0, render_fn=fake_render)
    try:
        worker.start()
        first = worker.pid
        assert first is not None
        assert worker.render(prepared.history(), state).startswith(f"{first} ".encode())
        started = time.monotonic()
        with pytest.raises(ChartError, match=r"not drawn within 3 s and was stopped"):
            worker.render(prepared.history(), state.model_copy(update={"ticker": "HANG"}))
        assert time.monotonic() - started < 10
        assert worker.pid is None and not Path(f"/proc/{first}").exists()
        # The next chart gets a fresh worker.
        again = worker.render(prepared.history(sessions=30), state)
        second = worker.pid
        assert second not in (None, first)
        assert again == f"{second} {state.as_of} 30".encode()
    finally:
        worker.close()


def test_a_failing_drawing_is_a_chart_error_and_the_worker_lives_on(
    demo: tuple[Prepared, MarketState], caplog: pytest.LogCaptureFixture
) -> None:
    prepared, state = demo
    worker = ChartWorker(timeout=30.0, render_fn=fake_render)
    try:
        caplog.set_level(logging.ERROR)
        with pytest.raises(ChartError, match="could not be drawn") as err:
            worker.render(prepared.history(), state.model_copy(update={"ticker": "FAIL"}))
        assert isinstance(err.value, AnalystError)
        # Users get one plain line; the worker's exception stays in the log.
        assert "ValueError" not in str(err.value) and "\n" not in str(err.value)
        assert "ValueError: no candles to draw" in caplog.text
        pid = worker.pid
        assert worker.render(prepared.history(), state).startswith(f"{pid} ".encode())
        assert worker.pid == pid
    finally:
        worker.close()
    assert worker.pid is None


def test_the_cache_draws_each_state_once_and_keeps_a_few(
    demo: tuple[Prepared, MarketState],
) -> None:
    prepared, _ = demo
    drawn: list[str] = []

    def draw(history: History, s: MarketState) -> bytes:
        if s.ticker == "FAIL":
            raise ChartError("the chart could not be drawn: test")
        drawn.append(str(s.as_of))
        return str(s.as_of).encode()

    cache = ChartCache(size=2, renderer=draw)
    days = [state_at(prepared, d.date()) for d in prepared.dates[-3:]]
    assert cache.get(prepared, days[0]) == str(days[0].as_of).encode()
    assert cache.get(prepared, days[0]) == str(days[0].as_of).encode()
    assert drawn == [str(days[0].as_of)]
    cache.get(prepared, days[1])
    cache.get(prepared, days[2])  # the oldest (days[0]) leaves
    cache.get(prepared, days[1])
    assert len(drawn) == 3
    cache.get(prepared, days[0])
    assert drawn[-1] == str(days[0].as_of) and len(drawn) == 4
    # Another fingerprint of the same day is another chart.
    cache.get(prepared, days[0].model_copy(update={"inputs_hash": "other"}))
    assert len(drawn) == 5
    failing = days[0].model_copy(update={"ticker": "FAIL", "inputs_hash": "f"})
    for _ in range(2):  # a failure is not cached: each request tries again
        with pytest.raises(ChartError):
            cache.get(prepared, failing)
    assert cache.worker is None


def test_an_unguarded_main_script_is_not_run_again_by_the_worker(tmp_path: Path) -> None:
    """A bot started from a script without ``if __name__ == "__main__"`` must not see
    that script re-run in the worker (multiprocessing's spawn would run it again)."""
    script = tmp_path / "run_bot.py"
    script.write_text(
        textwrap.dedent(
            """
            print("script body ran")
            from bot.chart import ChartCache
            from engine.build import prepare, state_at
            from engine.demo import demo_dataset

            prepared = prepare(demo_dataset())
            cache = ChartCache()
            print("png", len(cache.get(prepared, state_at(prepared))) > 50_000)
            cache.close()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["script body ran", "png True"]
    assert "script body ran" not in done.stderr
