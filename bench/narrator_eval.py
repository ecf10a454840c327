"""Evaluate the model narrator on real states through any OpenAI-compatible server.

``make eval-narrator`` (not part of ``make test`` or ``make bench``: it needs a model).
Settings come from the environment as for the product (OPENAI_API_KEY, OPENAI_BASE_URL,
OPENAI_MODEL, OPENAI_TIMEOUT, LLM_DEADLINE_SECONDS). For each state the narrator writes
a forecast with a fresh reply cache (no cache hits), and the harness records every
attempt: the reply, the grounding problems, the latency and the tokens. It prints the
first-try and after-repair acceptance, rejection reasons by kind, latency p50/p95 and
tokens per forecast, and writes every exchange to a JSONL file.

States: by default 20 as-of days across regimes from the real files beside the project
(``../shared/data/raw``); otherwise ``--csv`` files (or the local store) replayed at
evenly spaced days.

    python -m bench.narrator_eval [--n 20] [--out narrator_eval.jsonl]
                                  [--csv FILE --vix FILE --gex FILE] [--days 2024-07-16 ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

RAW = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "raw"

#: Days across regimes on the real files: crashes and rebounds, calm uptrends, rule fires
#: of every kind, GEX flips, days with no GEX data (the stand-in starts in 2011).
REGIME_DAYS = (
    "2008-10-10", "2009-03-09", "2011-08-08", "2014-10-15", "2016-06-27", "2018-02-05",
    "2018-12-24", "2020-03-16", "2020-03-23", "2020-11-09", "2021-06-22", "2022-06-16",
    "2022-10-13", "2023-03-13", "2023-10-27", "2024-07-16", "2024-11-11", "2025-04-08",
    "2026-06-29", "2026-07-02",
)  # fmt: skip


def _prepared(args: argparse.Namespace) -> tuple[Any, list[dt.date], str]:
    from bot.service import AnalystService, DataRequest
    from bot.settings import load_settings

    service = AnalystService(load_settings())
    if args.csv is None and (RAW / "kittycapital_etf-seasonality" / "IWM.csv").is_file():
        req = DataRequest(
            csv=RAW / "kittycapital_etf-seasonality" / "IWM.csv",
            vix=RAW / "noodles-rice_vix_dashboard" / "VIX_History.csv",
            gex=RAW / "squeezemetrics_dix" / "DIX.csv",
        )
        prepared = service.prepared(req)
        days = [dt.date.fromisoformat(d) for d in (args.days or REGIME_DAYS)][: args.n]
        return prepared, days, "real IWM, CBOE VIX, SPX GEX stand-in"
    req = DataRequest(csv=args.csv, vix=args.vix, gex=args.gex)
    prepared = service.prepared(req)
    index = prepared.dates[260:]
    step = max(1, len(index) // args.n)
    days = [dt.date.fromisoformat(d) for d in args.days] if args.days else [
        d.date() for d in index[::step][-args.n :]
    ]  # fmt: skip
    return prepared, days, f"replays of {args.csv or 'the local store'}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def _one(settings: Any, state: Any, cache_path: Path) -> dict[str, Any]:
    """One forecast through the model, every attempt recorded."""
    from bot.narrator.cache import ReplyCache
    from bot.narrator.llm import LLMNarrator, compact_state, estimate_tokens

    cache = ReplyCache(cache_path)
    narrator = LLMNarrator(settings, cache)
    attempts: list[dict[str, Any]] = []
    calls: list[float] = []
    tokens = [0]
    structured = narrator.client.structured

    def timed(*a: Any, **k: Any) -> Any:
        started = time.perf_counter()
        try:
            return structured(*a, **k)
        finally:
            calls.append(time.perf_counter() - started)

    def usage(prompt: int, completion: int) -> None:
        tokens[0] += prompt + completion

    def record(attempt: str, narrative: Any, problems: list[Any]) -> None:
        attempts.append(
            {
                "attempt": attempt,
                "narrative": narrative.model_dump(mode="json"),
                "problems": [
                    {"check": p.check, "sentence": p.sentence, "detail": p.detail} for p in problems
                ],
            }
        )

    narrator.client.structured = timed  # type: ignore[method-assign]
    narrator.client._on_usage = usage
    narrator.on_attempt = record
    started = time.perf_counter()
    narration = narrator.narrate(state)
    elapsed = time.perf_counter() - started
    cache.close()
    used = narration.source.startswith("model:")
    return {
        "as_of": state.as_of.isoformat(),
        "fired": [r.name for r in state.fired_rules],
        "calls": [state.tomorrow.call, state.next_5_days.call],
        "used_model_text": used,
        "first_try_ok": bool(attempts) and not attempts[0]["problems"],
        "notes": list(narration.notes),
        "attempts": attempts,
        "call_seconds": calls,
        "forecast_seconds": elapsed,
        "tokens": tokens[0],
        "prompt_tokens_estimate": estimate_tokens(json.dumps(compact_state(state))),
        "accepted_text": narration.narrative.model_dump(mode="json") if used else None,
    }


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from bot.settings import load_settings
    from engine.build import state_at

    settings = load_settings()
    if settings.openai_api_key is None:
        raise SystemExit("set OPENAI_API_KEY (any value for a local server) and OPENAI_BASE_URL")
    prepared, days, label = _prepared(args)
    out = Path(args.out)
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, out.open("w", encoding="utf-8") as fh:
        for day in days:
            rec = _one(settings, state_at(prepared, day), Path(tmp) / f"cache-{day}.sqlite3")
            records.append(rec)
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            how = "model" if rec["used_model_text"] else "template"
            note = f" - {rec['notes'][0]}" if rec["notes"] else ""
            print(f"{day}: {how} ({len(rec['attempts'])} attempt(s), "
                  f"{rec['forecast_seconds']:.1f} s){note}", flush=True)  # fmt: skip
    return summarise(records, label, settings.openai_model, out)


def summarise(records: list[dict[str, Any]], label: str, model: str, out: Path) -> dict[str, Any]:
    n = len(records)
    first = sum(r["first_try_ok"] for r in records)
    used = sum(r["used_model_text"] for r in records)
    repaired = [r for r in records if len(r["attempts"]) > 1]

    def stage(r: dict[str, Any]) -> str:
        return str(r["attempts"][-1]["attempt"]) if r["attempts"] else "none"

    repaired_ok = sum(1 for r in repaired if stage(r) == "repair" and r["used_model_text"])
    trimmed = sum(1 for r in records if stage(r) == "trimmed")
    reasons = Counter(p["check"] for r in records for a in r["attempts"] for p in a["problems"])
    calls = [s for r in records for s in r["call_seconds"]]
    tokens = [r["tokens"] for r in records if r["tokens"]]
    summary = {
        "states": n,
        "data": label,
        "model": model,
        "first_try_accepted": first,
        "used_after_at_most_one_repair": used,
        "repairs": len(repaired),
        "repairs_that_succeeded": repaired_ok,
        "used_after_cutting_failed_sentences": trimmed,
        "rejections_by_kind": dict(reasons.most_common()),
        "call_seconds_p50": _percentile(calls, 0.5),
        "call_seconds_p95": _percentile(calls, 0.95),
        "tokens_per_forecast_median": statistics.median(tokens) if tokens else None,
        "failures": [r["notes"][0] for r in records if r["notes"]],
    }
    print(
        f"\n{n} states ({label}), model {model}\n"
        f"  first try accepted       {first}/{n} ({first / max(n, 1):.0%})\n"
        f"  model text used          {used}/{n} ({used / max(n, 1):.0%}): first try {first}, "
        f"after one repair {repaired_ok}, after cutting failed sentences {trimmed}\n"
        f"  repairs that succeeded   {repaired_ok}/{len(repaired)}\n"
        f"  rejections by kind       {dict(reasons.most_common())}\n"
        f"  latency per call         p50 {summary['call_seconds_p50']:.1f} s, "
        f"p95 {summary['call_seconds_p95']:.1f} s\n"
        f"  tokens per forecast      median {summary['tokens_per_forecast_median']}\n"
        f"  exchanges written to     {out}"
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="narrator_eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20, help="number of states (default 20)")
    p.add_argument("--out", default="narrator_eval.jsonl", help="JSONL of every exchange")
    p.add_argument("--csv", type=Path, help="prices CSV to replay instead of the real files")
    p.add_argument("--vix", type=Path)
    p.add_argument("--gex", type=Path)
    p.add_argument("--days", nargs="*", help="as-of days (YYYY-MM-DD) instead of the defaults")
    evaluate(p.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
