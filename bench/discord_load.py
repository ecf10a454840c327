"""100 concurrent ``forecast`` requests for the same day through the bot's forecast path.

The bot is built in a fresh interpreter (``python -m bench.discord_load``), so no other
benchmark's imports or allocations count in its memory, with the malloc arena cap the
bot sets (:func:`bot.wiring.limit_malloc_arenas`) and no Discord connection; its
messages go to a recording channel, its charts are drawn by its chart worker (a child
process, as in the bot), and the model is the scripted OpenAI-compatible server from
the tests, on loopback. Reports: model calls made, reply latency p50/p95, the bot's
resident memory after start-up, with the model client imported (the bot imports it at
its first model call; here just before the load, to tell its share apart) and after the
100, and the chart worker's resident memory on its own.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

REQUESTS = 100


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory (VmRSS) of a process, MB (MiB)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class _Sent:
    id: int
    channel: Any


@dataclass
class RecordingChannel:
    id: int = 42
    sent: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    async def send(self, **kwargs: Any) -> _Sent:
        self.sent.append(kwargs)
        return _Sent(next(self._ids), self)


async def _load(bot: Any) -> list[float]:
    """Latencies of REQUESTS concurrent forecasts."""
    from bot.discord_bot.cogs.forecast import send_forecast

    async def one() -> float:
        channel = RecordingChannel()
        started = time.perf_counter()
        await send_forecast(bot, channel, channel.send, bot.deadline())
        if not channel.sent:
            raise RuntimeError("the forecast sent nothing")
        return time.perf_counter() - started

    return list(await asyncio.gather(*(one() for _ in range(REQUESTS))))


def run() -> list[str]:
    """The measurement, in a fresh interpreter; its result lines."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-m", "bench.discord_load"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return done.stdout.splitlines()


def measure() -> list[str]:
    from bot.wiring import limit_malloc_arenas

    limit_malloc_arenas()
    from bot.narrator.factory import NarratorChooser
    from bot.narrator.offline import OfflineNarrator
    from bot.service import AnalystService, DataRequest
    from bot.settings import load_settings
    from tests.bot.fake_openai import FakeOpenAI, Reply, completion

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IWM_DATA_DIR"] = tmp
        fake = FakeOpenAI().start()
        try:
            settings = load_settings(
                OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=fake.base_url, OPENAI_MODEL="bench"
            )
            service = AnalystService(settings, narrator_factory=NarratorChooser())
            state = service.state(DataRequest(demo=True))
            narrative = OfflineNarrator().write(state).model_dump_json()
            fake.default = Reply(body=completion(narrative), delay=0.3)

            from bot.chart import ChartCache
            from bot.discord_bot.app import AnalystBot
            from bot.discord_bot.persist import BotState

            bot = AnalystBot(
                settings,
                service,
                state_db=BotState(settings.database),
                charts=ChartCache(),
                start_scheduler=False,
            )
            rss_start = rss_mb()
            # The bot imports the model client (openai, httpx) at its first model call;
            # importing it here first tells its share apart from the forecasts'.
            importlib.import_module("bot.narrator.client")

            rss_client = rss_mb()
            latencies = asyncio.run(_load(bot))
            rss_after = rss_mb()
            worker = bot.charts.worker.pid if bot.charts.worker is not None else None
            rss_worker = rss_mb(worker) if worker is not None else float("nan")
            bot.charts.close()
            bot.state_db.close()
        finally:
            fake.stop()
            os.environ.pop("IWM_DATA_DIR", None)
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return [
        f"{REQUESTS} concurrent forecasts (demo data, model on loopback with 300 ms latency): "
        f"{len(fake.requests)} model call(s) on a fresh store (target 1)",
        f"reply latency p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms",
        f"bot resident memory: {rss_start:.0f} MB after start-up, {rss_client:.0f} MB with "
        f"the model client imported (+{rss_client - rss_start:.0f}), {rss_after:.0f} MB after "
        f"the {REQUESTS} forecasts (target < 150 MB)",
        f"chart worker (separate process) resident memory: {rss_worker:.0f} MB",
    ]


if __name__ == "__main__":
    for line in measure():
        print(line)
