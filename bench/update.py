"""An incremental ``update`` (store already filled) against loopback servers.

Each run re-asks prices and VIX, finds no new FINRA day, fetches the chain and computes
GEX; the median over a few runs is reported next to the first (backfill) run.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from sources.store import Store
from sources.update import update
from tests.sources.conftest import serve
from tests.sources.test_update import TODAY, make_providers, serve_world


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp, serve() as server:
        serve_world(server)
        providers = make_providers(server, Path(tmp) / "finra")
        with Store(Path(tmp) / "db.sqlite3") as store:
            start = time.perf_counter()
            first = update(store, providers, TODAY, backfill_years=1)
            backfill = (time.perf_counter() - start) * 1000
            if not first.ok:
                raise RuntimeError(f"first update failed: {first.failed}")
            times = []
            for _ in range(5):
                start = time.perf_counter()
                report = update(store, providers, TODAY, backfill_years=1)
                times.append((time.perf_counter() - start) * 1000)
                assert report.ok and sum(r.changed for r in report.results) == 0
    days = first.results[2].changed
    inc = statistics.median(times)
    return [
        f"first update with a 1-year FINRA backfill ({days} files): {backfill:,.0f} ms",
        f"incremental update, nothing new: median {inc:,.0f} ms over {len(times)} runs",
        f"ratio backfill / incremental: {backfill / inc:,.1f}x",
        f"(as of {dt.date.isoformat(TODAY)}, loopback HTTP on 127.0.0.1)",
    ]
