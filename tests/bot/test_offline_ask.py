"""``ask`` without a model: levels and walls, indicator meanings, rules, calls, the rest.

Also what the answer says when a model was asked and its reply failed the checks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.cli import main
from bot.narrator.answer import offline_answer
from bot.narrator.intents import TERMS, terms_in
from bot.service import DataRequest
from engine.gex import compute_gex
from engine.state import MarketState
from sources.providers.chain import read_chain_file
from tests.bot.fake_openai import FakeOpenAI, Reply, completion, error
from tests.bot.test_llm import model_settings, service

DEMO = DataRequest(demo=True)
CHAIN = Path(__file__).parents[1] / "sources" / "fixtures" / "cboe_iwm_chain.json"


@pytest.fixture(scope="module")
def chain_state(demo_state: MarketState) -> MarketState:
    """The demo state with the gamma levels of a real-format chain (CBOE's JSON)."""
    snap = read_chain_file(CHAIN)
    result = compute_gex(snap.contracts, snap.spot, snap.as_of)
    gex = demo_state.regime.gex.model_copy(
        update={
            "flip_level": result.flip_level,
            "call_wall": result.call_wall,
            "put_wall": result.put_wall,
            "snapshot_time": snap.as_of,
        }
    )
    regime = demo_state.regime.model_copy(update={"gex": gex})
    return demo_state.model_copy(update={"regime": regime})


def test_call_wall_put_wall_and_flip_come_from_the_chain(chain_state: MarketState) -> None:
    g, close = chain_state.regime.gex, chain_state.latest.close
    assert g.call_wall is not None and g.put_wall is not None and g.flip_level is not None
    call = offline_answer("what's the call wall?", chain_state).text
    assert call.startswith(f"The call wall is {g.call_wall:,.2f}")
    assert f"{(g.call_wall / close - 1) * 100:+.2f}% from the close {close:,.2f}" in call
    assert "call gamma" in call and "forecast" not in call.lower()
    put = offline_answer("where is the put wall", chain_state).text
    assert put.startswith(f"The put wall is {g.put_wall:,.2f}")
    flip = offline_answer("where's the gamma flip?", chain_state).text
    assert flip.startswith(f"The gamma flip is {g.flip_level:,.2f}")


def test_levels_without_a_chain_say_where_to_get_one(demo_state: MarketState) -> None:
    text = offline_answer("what's the call wall?", demo_state).text
    assert "no call wall for 2025-12-31" in text and "iwm-analyst update" in text
    levels = offline_answer("key levels for tomorrow?", demo_state).text
    for lv in demo_state.key_levels:
        assert f"* {lv.name}: {lv.price:,.2f}" in levels
    assert "no call or put wall" in levels


@pytest.mark.parametrize("term", [name for name, _ in TERMS])
def test_every_indicator_has_a_definition_with_todays_value(
    demo_state: MarketState, term: str
) -> None:
    question = {
        "dark_pool": "what is the dark pool ratio?",
        "realized_vol": "what is realised volatility?",
        "base_rate": "what's the base rate?",
        "bollinger": "what are bollinger bands?",
        "macd": "what does MACD mean?",
        "rsi": "what is RSI?",
        "vix": "is VIX high?",
        "gex": "what does GEX mean?",
        "sma": "what is the SMA50?",
        "atr": "what is ATR?",
        "trend": "what's the trend?",
    }[term]
    assert terms_in(question) == [term]
    text = offline_answer(question, demo_state).text
    assert "Today (2025-12-31)" in text
    assert "n/a" not in text  # every value the definition names is in the state
    assert "OPENAI_API_KEY" not in text


def test_rsi_definition_and_value(demo_state: MarketState) -> None:
    text = offline_answer("what is RSI?", demo_state).text
    rsi = demo_state.indicators.rsi14
    assert rsi is not None
    assert "Wilder" in text and f"it is {rsi:.1f}." in text


def test_rules_and_calls_still_answered(demo_state: MarketState) -> None:
    rule = offline_answer("what is RSI_Extreme?", demo_state).text  # the rule, not RSI
    assert rule.startswith("`RSI_Extreme` (Tier 3")
    call = offline_answer("what's tomorrow's call?", demo_state).text
    assert call.startswith(f"Tomorrow: {demo_state.tomorrow.call}")


def test_unknown_questions_list_what_can_be_asked(demo_state: MarketState) -> None:
    text = offline_answer("who will win the election?", demo_state).text
    assert "what's the call wall?" in text and "what is RSI?" in text
    assert "why did GEX_Negative fire?" in text
    assert "set OPENAI_API_KEY" in text  # no model configured: say how to get one


def test_a_rejected_model_reply_is_not_blamed_on_a_missing_key(fake: FakeOpenAI) -> None:
    bad = Reply(body=completion("Sure: it closes at 412.37 on Friday, 93.1% certain."))
    fake.script = [bad, bad]
    reply = service(model_settings(fake)).ask(DEMO, "tell me a story about the market")
    assert reply.source == "offline" and len(fake.requests) == 2
    assert "failed the check against today's figures" in reply.text
    assert "OPENAI_API_KEY" not in reply.text
    assert "412.37" not in reply.text


def test_a_model_outage_says_so(fake: FakeOpenAI) -> None:
    fake.script = [error(503), error(503), error(503)]
    reply = service(model_settings(fake)).ask(DEMO, "tell me a story about the market")
    assert "The model was asked, but the model service answered HTTP 503" in reply.text
    assert "OPENAI_API_KEY" not in reply.text


def test_ask_cli_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "what's the call wall?", "--demo", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "no call wall" in out and "P(up)" not in out  # not the forecast
    assert main(["ask", "what is RSI?", "--demo", "--offline"]) == 0
    assert "relative strength index" in capsys.readouterr().out


def test_snapshot_time_is_shown(chain_state: MarketState) -> None:
    text = offline_answer("call wall?", chain_state).text
    when = chain_state.regime.gex.snapshot_time
    assert isinstance(when, dt.datetime) and f"chain as of {when:%Y-%m-%d %H:%M}" in text
