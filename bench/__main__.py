"""Run every benchmark module in ``bench/`` and print its result lines.

A benchmark module defines ``run() -> list[str]``; each line reports medians (and ratios
where a comparison makes sense) measured in this one run, since the machine is noisy.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def main(argv: list[str]) -> int:
    wanted = set(argv)
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    )
    status = 0
    for name in names:
        if wanted and name not in wanted:
            continue
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "run"):
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            for line in module.run():
                print(f"   {line}", flush=True)
        except Exception as exc:  # a failing benchmark must not hide the others
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            status = 1
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
