from __future__ import annotations

import datetime as dt

import pytest

from bot.narrator import make_report
from bot.narrator.grounding import check_text, ungrounded_numbers
from bot.narrator.offline import OfflineNarrator
from bot.views.fmt import num, pct, pct_interval, signed_pct, usd
from engine.build import build_state
from engine.demo import demo_dataset
from engine.state import Interval, MarketState

SECTIONS = (
    "Current Market State",
    "Key Indicators",
    "Active Signals",
    "Immediate (Tomorrow):",
    "Assessment:",
    "Short Term (Next 5 Days):",
    "Rationale:",
    "Strategy:",
    "Not financial advice",
)


def test_formatting_helpers() -> None:
    assert pct(0.5612) == "56%"
    assert pct(0.5612, 1) == "56.1%"
    assert signed_pct(0.0065) == "+0.65%"
    assert signed_pct(-0.0123) == "-1.23%"
    assert num(229.17866) == "229.18"
    assert usd(-1.234e9) == "-$1.23B"
    assert usd(647_907_892.8) == "$647.91M"
    assert usd(None) == "n/a"
    # a small chain's GEX keeps its size (it once printed as "+0M")
    assert usd(40_146.0) == "$40.15K" and usd(-512.4) == "-$512"
    assert pct_interval(Interval(low=0.461, high=0.754)) == "46-75%"
    assert pct(float("nan")) == "n/a"


def _report(state: MarketState) -> str:
    return make_report(state, OfflineNarrator().narrate(state)).text


@pytest.mark.parametrize(
    "as_of", [None, dt.date(2023, 3, 15), dt.date(2024, 6, 3), dt.date(2022, 10, 3)]
)
def test_report_has_playbook_sections_and_only_state_numbers(as_of: dt.date | None) -> None:
    state = build_state(demo_dataset(), as_of=as_of)
    text = _report(state)
    for section in SECTIONS:
        assert section in text
    assert check_text(text, state) == []
    assert "SYNTHETIC DEMO DATA" in text
    for rule in state.fired_rules:
        assert f"`{rule.name}` (TRUE)" in text


def test_every_quoted_win_rate_has_its_sample_size(demo_state: MarketState) -> None:
    text = _report(demo_state)
    for line in text.splitlines():
        if "of the time" in line:
            assert "(n=" in line


def test_no_signal_day_says_base_rate() -> None:
    state = build_state(demo_dataset(), as_of=dt.date(2023, 3, 15))
    assert not state.fired_rules
    text = _report(state)
    assert "no playbook rule fires today" in text
    assert "base rate" in text


def test_contradicted_claim_is_said_plainly() -> None:
    dataset = demo_dataset()
    for day in dataset.frame.index[300::7]:
        state = build_state(dataset, as_of=day.date())
        bad = [
            r
            for r in state.fired_rules
            if any(s.verdict == "contradicted" and s.horizon == 5 for s in r.stats)
        ]
        if bad and state.next_5_days.drivers:
            text = _report(state)
            assert "does NOT hold on this data" in text
            return
    pytest.skip("no demo day with a contradicted, fired rule")


def test_grounding_flags_invented_numbers(demo_state: MarketState) -> None:
    assert ungrounded_numbers("Close at 123.45 with a 97.31% win rate", demo_state) == [
        "123.45",
        "97.31%",
    ]
    close = f"{demo_state.latest.close:.2f}"
    assert ungrounded_numbers(f"IWM closed at {close} (Tier 1, SMA20).", demo_state) == []
    assert ungrounded_numbers("as of 1999-01-01", demo_state) == ["1999-01-01"]


def test_report_shows_ranges_levels_and_why_low(demo_state: MarketState) -> None:
    text = _report(demo_state)
    for f, label in ((demo_state.tomorrow, "tomorrow"), (demo_state.next_5_days, "next 5 days")):
        assert f.move is not None
        b68, b90 = f.move.band(0.68), f.move.band(0.90)
        assert b68 is not None and b90 is not None
        assert (
            f"* **Range ({label}):** 68% {num(b68.price_low)} to {num(b68.price_high)} "
            f"({signed_pct(b68.return_low)} to {signed_pct(b68.return_high)}); "
            f"90% {num(b90.price_low)} to {num(b90.price_high)}"
        ) in text
    assert "**Key Levels (Tomorrow):**" in text
    assert f"**{num(demo_state.latest.close)} close**" in text
    for lv in demo_state.key_levels:
        assert f"{num(lv.price)} {lv.name} ({signed_pct(lv.distance)}" in text
    reason = demo_state.tomorrow.confidence_reason
    assert reason is not None
    from bot.views.report import phrases

    assert f"low confidence ({phrases()['why_low'][reason]})" in text


def test_label_against_record_is_said_in_a_sentence(demo_state: MarketState) -> None:
    against = [d for d in demo_state.tomorrow.drivers if d.record_vs_label == "contradicts"]
    assert against, "the demo's last day has a bullish rule whose record is bearish"
    text = _report(demo_state)
    assert (
        f"`{against[0].rule}` is labelled bullish, but its measured record points the other "
        "way" in text
    )
    d = demo_state.tomorrow.drivers[0].model_copy(update={"record_vs_label": "agrees"})
    agreeing = demo_state.model_copy(
        update={"tomorrow": demo_state.tomorrow.model_copy(update={"drivers": (d,)})}
    )
    assert "is labelled bullish, but" not in _report(agreeing).split("**Short Term")[0]


def test_grounding_covers_the_ranges_and_levels(demo_state: MarketState) -> None:
    move = demo_state.next_5_days.move
    assert move is not None
    band = move.band(0.90)
    assert band is not None
    level = demo_state.key_levels[0]
    quoted = (
        f"Over the next 5 days the 90% range is {num(band.price_low)} to "
        f"{num(band.price_high)} ({signed_pct(band.return_low)} to "
        f"{signed_pct(band.return_high)}), sigma {pct(move.sigma, 2)}; the {level.name} sits "
        f"at {num(level.price)}, {signed_pct(level.distance)} away."
    )
    assert ungrounded_numbers(quoted, demo_state) == []
    invented = f"The 90% range is {num(band.price_low)} to {num(band.price_high + 7.31)}."
    assert ungrounded_numbers(invented, demo_state) == [num(band.price_high + 7.31)]
    assert ungrounded_numbers("a 68% range of +4.87% to +9.13%", demo_state) == [
        "+4.87%",
        "+9.13%",
    ]
