"""Each bundled rule on hand-built frames, and the playbook file's validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.errors import RuleSpecError
from engine.rules import DEFAULT_PLAYBOOK, evaluate_rules, explain, load_playbook
from engine.state import EngineParams

BOOK = load_playbook()
PARAMS = EngineParams()

# A calm day on which no bundled rule fires.
BASE = {
    "close": 100.0,
    "sma20": 100.5,
    "sma50": 101.0,
    "rsi14": 45.0,
    "macd_hist": -0.1,
    "vix": 18.0,
    "vix_mean10": 17.0,
    "gex": 1e9,
    "gex_prev": 1e9,
    "dark_pool": 1.1,
    "bb_lower": 95.0,
}


def fires(**day: float) -> dict[str, bool]:
    """Evaluate every rule on a two-row frame whose last row is ``BASE`` + ``day``."""
    today = {**BASE, **day}
    yesterday = {**BASE, "gex": today["gex_prev"]}
    frame = pd.DataFrame([yesterday, today], index=pd.bdate_range("2024-01-01", periods=2))
    result = evaluate_rules(BOOK, frame, PARAMS)
    return {name: bool(result[name].iloc[-1]) for name in result.columns}


def fired(**day: float) -> set[str]:
    return {name for name, hit in fires(**day).items() if hit}


def test_quiet_day_fires_nothing() -> None:
    assert fired() == set()


def test_negative_gex_and_high_vix() -> None:
    assert fired(gex=-1e8, gex_prev=-1e8, vix=20.0) == {"Negative_GEX_AND_High_VIX", "GEX_Negative"}
    assert "Negative_GEX_AND_High_VIX" not in fired(gex=-1e8, gex_prev=-1e8, vix=19.99)
    assert "Negative_GEX_AND_High_VIX" not in fired(gex=0.0, vix=30.0)


def test_golden_setup_boundaries() -> None:
    golden = {
        "close": 105.0,
        "sma20": 103.0,
        "sma50": 100.0,
        "rsi14": 60.0,
        "macd_hist": 0.2,
        "vix": 15.0,
        "vix_mean10": 16.0,
    }
    assert "Golden_Setup" in fired(**golden)
    assert "Golden_Setup" in fired(**{**golden, "rsi14": 50.0})
    assert "Golden_Setup" in fired(**{**golden, "rsi14": 70.0})
    assert "Golden_Setup" not in fired(**{**golden, "rsi14": 70.01})
    assert "Golden_Setup" not in fired(**{**golden, "vix": 20.0, "vix_mean10": 25.0})
    assert "Golden_Setup" not in fired(**{**golden, "vix_mean10": 14.0})
    assert "Golden_Setup" not in fired(**{**golden, "macd_hist": 0.0})
    assert "Golden_Setup" not in fired(**{**golden, "sma20": 99.0})


def test_gex_turned_positive_is_a_crossing() -> None:
    assert "GEX_Turned_Positive" in fired(gex=0.0, gex_prev=-5e7)
    assert "GEX_Turned_Positive" in fired(gex=2e8, gex_prev=-5e7)
    assert "GEX_Turned_Positive" not in fired(gex=2e8, gex_prev=1e8)
    assert "GEX_Turned_Positive" not in fired(gex=-1e8, gex_prev=-2e8)


def test_bb_lower_and_rsi_and_dark_pool() -> None:
    assert "BB_Breakout_Lower" in fired(close=94.9)
    assert "BB_Breakout_Lower" not in fired(close=95.0)
    assert "RSI_Extreme" in fired(rsi14=75.01)
    assert "RSI_Extreme" not in fired(rsi14=75.0)
    assert "DarkPool_Bullish" in fired(dark_pool=1.51)
    assert "DarkPool_Bullish" not in fired(dark_pool=1.5)


def test_missing_values_never_fire() -> None:
    assert fired(gex=np.nan, gex_prev=np.nan, vix=np.nan, dark_pool=np.nan) == set()


def test_threshold_parameter_is_used() -> None:
    today = {**BASE, "gex": -1e8, "gex_prev": -1e8, "vix": 17.0}
    frame = pd.DataFrame([today, today], index=pd.bdate_range("2024-01-01", periods=2))
    low = evaluate_rules(BOOK, frame, EngineParams(high_vix=16.0))
    assert bool(low["Negative_GEX_AND_High_VIX"].iloc[-1])


def test_explain_gives_deciding_values() -> None:
    today = {**BASE, "gex": -1e8, "gex_prev": -1e8, "vix": 25.0}
    frame = pd.DataFrame([today, today], index=pd.bdate_range("2024-01-01", periods=2))
    checks = explain(BOOK.get("Negative_GEX_AND_High_VIX"), frame, 1, PARAMS)  # type: ignore[arg-type]
    assert [(c.left, c.left_value, c.right_value, c.passed) for c in checks] == [
        ("gex", -1e8, 0.0, True),
        ("vix", 25.0, 20.0, True),
    ]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "book.toml"
    path.write_text(text)
    return path


RULE = """
[[rules]]
name = "X"
tier = {tier}
direction = "bullish"
signal = "s"
rationale = "r"
when = [{when}]
"""


@pytest.mark.parametrize(
    ("tier", "when", "needle"),
    [
        (1, '{ left = "nope", op = "<", right = 0 }', "unknown column 'nope'"),
        (1, '{ left = "gex", op = "=~", right = 0 }', "unknown operator"),
        (1, '{ left = "vix", op = ">", right = "param:nope" }', "unknown parameter"),
        (4, '{ left = "gex", op = "<", right = 0 }', "tier must be"),
        (1, '{ left = "gex", op = "<", right = "__import__(\'os\')" }', "unknown column"),
    ],
)
def test_bad_playbook_names_rule_and_field(
    tmp_path: Path, tier: int, when: str, needle: str
) -> None:
    with pytest.raises(RuleSpecError, match="'X'") as exc:
        load_playbook(_write(tmp_path, RULE.format(tier=tier, when=when)))
    assert needle in str(exc.value)


def test_bad_toml_and_duplicates(tmp_path: Path) -> None:
    with pytest.raises(RuleSpecError, match="not valid TOML"):
        load_playbook(_write(tmp_path, "[[rules]\n"))
    one = RULE.format(tier=1, when='{ left = "gex", op = "<", right = 0 }')
    with pytest.raises(RuleSpecError, match="twice"):
        load_playbook(_write(tmp_path, one + one))
    with pytest.raises(RuleSpecError, match="cannot read"):
        load_playbook(tmp_path / "missing.toml")


def test_user_rule_of_every_kind(tmp_path: Path) -> None:
    text = (
        DEFAULT_PLAYBOOK.read_text()
        + """
[[rules]]
name = "Custom"
tier = 2
direction = "bearish"
signal = "Fade"
rationale = "a user's own rule"
claims = [{ horizon = 5, win_rate = 0.55 }]
when = [
  { left = "close", op = "crosses_below", right = "sma20" },
  { left = "vix", op = ">=", right = "param:high_vix" },
  { left = "rsi14", op = "<", right = 40 },
]
"""
    )
    book = load_playbook(_write(tmp_path, text))
    assert book.get("custom") is not None and len(book.rules) == 8
    rows = [
        {**BASE, "close": 101.0, "sma20": 100.0},
        {**BASE, "close": 99.0, "sma20": 100.0, "vix": 22.0, "rsi14": 35.0},
    ]
    frame = pd.DataFrame(rows, index=pd.bdate_range("2024-01-01", periods=2))
    assert bool(evaluate_rules(book, frame, PARAMS)["Custom"].iloc[-1])
    assert book.version != load_playbook().version


def test_rules_module_never_evaluates_text() -> None:
    source = (Path(__file__).resolve().parents[2] / "engine" / "rules.py").read_text()
    assert "eval(" not in source and "exec(" not in source


def test_between_is_inclusive_and_reports_each_bound(tmp_path: Path) -> None:
    text = RULE.format(tier=3, when='{ left = "rsi14", op = "between", right = [50, 70] }')
    book = load_playbook(_write(tmp_path, text))
    rows = [{**BASE, "rsi14": v} for v in (49.99, 50.0, 60.0, 70.0, 70.01, np.nan)]
    frame = pd.DataFrame(rows, index=pd.bdate_range("2024-01-01", periods=len(rows)))
    assert evaluate_rules(book, frame, PARAMS)["X"].tolist() == [
        False,
        True,
        True,
        True,
        False,
        False,
    ]
    checks = explain(book.rules[0], frame, 4, PARAMS)
    assert [(c.op, c.right_value, c.passed) for c in checks] == [
        (">=", 50.0, True),
        ("<=", 70.0, False),
    ]


@pytest.mark.parametrize(
    ("right", "needle"),
    [("[70, 50]", "reversed"), ("[50]", "[low, high]"), ('"rsi14"', "[low, high]")],
)
def test_between_needs_two_ordered_bounds(tmp_path: Path, right: str, needle: str) -> None:
    when = f'{{ left = "rsi14", op = "between", right = {right} }}'
    with pytest.raises(RuleSpecError, match="'X'") as exc:
        load_playbook(_write(tmp_path, RULE.format(tier=1, when=when)))
    assert needle in str(exc.value)


def test_bundled_golden_setup_uses_between() -> None:
    golden = BOOK.get("Golden_Setup")
    assert golden is not None
    rsi_bounds = [(c.op, c.right) for c in golden.when if c.left == "rsi14"]
    assert rsi_bounds == [(">=", 50.0), ("<=", 70.0)]


def test_high_vix_parameter_reaches_golden_setup_and_rsi_extreme_its_own() -> None:
    """Thresholds are parameters with one default: IWM_HIGH_VIX moves Golden_Setup too."""
    golden = {"close": 105.0, "sma20": 103.0, "sma50": 100.0, "rsi14": 60.0,
              "macd_hist": 0.2, "vix": 22.0, "vix_mean10": 23.0}  # fmt: skip
    frame = pd.DataFrame([{**BASE, **golden}] * 2, index=pd.bdate_range("2024-01-01", periods=2))
    assert not evaluate_rules(BOOK, frame, PARAMS)["Golden_Setup"].iloc[-1]
    assert evaluate_rules(BOOK, frame, EngineParams(high_vix=25.0))["Golden_Setup"].iloc[-1]
    hot = frame.assign(rsi14=72.0)
    assert not evaluate_rules(BOOK, hot, PARAMS)["RSI_Extreme"].iloc[-1]
    assert evaluate_rules(BOOK, hot, EngineParams(rsi_extreme=70.0))["RSI_Extreme"].iloc[-1]


def test_explanation_and_mask_agree_on_every_day_of_the_demo() -> None:
    """One operator table: a rule fires exactly when every explained condition passed."""
    from engine.demo import demo_dataset
    from engine.prepared import prepare
    from engine.rules import is_available

    prepared = prepare(demo_dataset(years=2))
    ind, fires_ = prepared.ind, prepared.fires
    for rule in BOOK.rules:
        for pos in range(0, len(ind), 7):
            checks = explain(rule, ind, pos, PARAMS)
            assert bool(fires_[rule.name].iloc[pos]) == all(c.passed for c in checks)
            assert is_available(rule, ind, pos)


def test_warmup_follows_the_rules_that_are_loaded(tmp_path: Path) -> None:
    from engine.build import build_state
    from engine.demo import demo_dataset
    from engine.errors import InsufficientHistoryError

    assert set(BOOK.warmup_columns) == {"close", "sma20", "sma50", "rsi14", "macd_hist", "bb_lower"}
    path = tmp_path / "long.toml"
    path.write_text(
        '[[rules]]\nname = "Above_200"\ntier = 2\ndirection = "bullish"\nsignal = "s"\n'
        'rationale = "r"\nwhen = [{ left = "close", op = ">", right = "sma200" }]\n'
    )
    book = load_playbook(path)
    assert book.warmup_columns == ("close", "sma200")
    data = demo_dataset(years=1)
    day = data.frame.index[150].date()
    build_state(data, as_of=day)  # the bundled rules are ready after about 60 rows
    with pytest.raises(InsufficientHistoryError, match="sma200"):
        build_state(data, as_of=day, playbook=book)
