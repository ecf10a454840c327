"""The grounding checker measured on a labelled corpus of sentences about real states.

``grounding_corpus.txt`` holds sentences a narrator might write, each labelled true or
false of a real day's MarketState (misattributed figures, claims passed off as measured,
wrong regime, wrong fired rule, dates, verdicts, paraphrased but correct figures). The
checker must reject at least 98% of the false ones and accept at least 95% of the true.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from bot.narrator.grounding import check_text
from engine.build import prepare, state_at
from engine.prepared import Prepared
from engine.state import MarketState
from sources.csv_import import load_dataset

CORPUS = Path(__file__).with_name("grounding_corpus.txt")


def corpus() -> list[tuple[dt.date, bool, str, str]]:
    rows = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        day, label, kind, text = (part.strip() for part in line.split("|", 3))
        rows.append((dt.date.fromisoformat(day), label == "T", kind, text))
    return rows


@pytest.fixture(scope="module")
def real(raw_data_dir: Path) -> Prepared:
    return prepare(
        load_dataset(
            raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv",
            raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv",
            raw_data_dir / "squeezemetrics_dix" / "DIX.csv",
        )
    )


def test_corpus_is_large_and_balanced() -> None:
    rows = corpus()
    labels = Counter(label for _, label, _, _ in rows)
    assert len(rows) >= 150 and labels[True] >= 60 and labels[False] >= 60
    assert len({kind for _, _, kind, _ in rows}) >= 10


def test_checker_precision_and_recall_on_the_corpus(real: Prepared) -> None:
    states: dict[dt.date, MarketState] = {}
    missed: list[str] = []
    wrongly: list[str] = []
    counts = Counter()
    for day, true, kind, text in corpus():
        state = states.setdefault(day, state_at(real, day))
        problems = check_text(text, state)
        counts[(true, not problems)] += 1
        if true and problems:
            wrongly.append(f"{day} {kind}: {text} -> {[p.detail for p in problems]}")
        if not true and not problems:
            missed.append(f"{day} {kind}: {text}")
    n_true = counts[(True, True)] + counts[(True, False)]
    n_false = counts[(False, True)] + counts[(False, False)]
    accepted = counts[(True, True)] / n_true
    rejected = counts[(False, False)] / n_false
    print(f"true accepted {accepted:.1%} of {n_true}; false rejected {rejected:.1%} of {n_false}")
    assert rejected >= 0.98, "false sentences accepted:\n" + "\n".join(missed)
    assert accepted >= 0.95, "true sentences rejected:\n" + "\n".join(wrongly)
