"""The model narrator against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest

from bot.narrator.factory import NarratorChooser
from bot.narrator.offline import OfflineNarrator
from bot.service import AnalystService, DataRequest
from bot.settings import Settings, load_settings
from engine.state import MarketState
from tests.bot.fake_openai import FakeOpenAI, Reply, completion, error

SECRET = "sk-test-do-not-print-0123456789"
DEMO = DataRequest(demo=True)


def model_settings(fake: FakeOpenAI, **extra: object) -> Settings:
    values = {
        "OPENAI_API_KEY": SECRET,
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_MODEL": "test-model",
        "OPENAI_TIMEOUT": 5.0,  # generous: a loaded CI machine must not turn replies into retries
        "LLM_DEADLINE_SECONDS": 10,
        **extra,
    }
    return load_settings(**values)


def service(settings: Settings) -> AnalystService:
    clock = lambda: dt.datetime(2026, 1, 2, 13, 0, tzinfo=dt.UTC)  # noqa: E731
    return AnalystService(
        settings, clock=clock, narrator_factory=NarratorChooser(clock, backoff_initial=0.01)
    )


def good(state: MarketState) -> Reply:
    return Reply(body=completion(OfflineNarrator().write(state).model_dump_json()))


def with_text(state: MarketState, extra: str, **changes: str) -> Reply:
    narrative = OfflineNarrator().write(state)
    narrative = narrative.model_copy(
        update={"immediate_assessment": narrative.immediate_assessment + extra, **changes}
    )
    return Reply(body=completion(narrative.model_dump_json()))


@pytest.fixture
def state(settings: Settings) -> MarketState:
    return AnalystService(settings).state(DEMO)


def test_good_reply_is_used_and_cached(fake: FakeOpenAI, state: MarketState) -> None:
    fake.script = [good(state)]
    svc = service(model_settings(fake))
    report = svc.forecast(DEMO)
    assert report.narrator == "model:test-model" and report.notes == ()
    body = fake.chat_requests()[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["messages"][0]["role"] == "system"
    again = svc.forecast(DEMO)
    assert again.text == report.text and len(fake.requests) == 1


def test_rate_limit_then_success(fake: FakeOpenAI, state: MarketState) -> None:
    fake.script = [error(429), good(state)]
    report = service(model_settings(fake)).forecast(DEMO)
    assert report.narrator == "model:test-model" and len(fake.requests) == 2


def test_server_errors_fall_back_after_three_attempts(fake: FakeOpenAI) -> None:
    fake.script = [error(500), error(500), error(500)]
    report = service(model_settings(fake)).forecast(DEMO)
    assert len(fake.requests) == 3
    assert report.narrator == "offline"
    assert "HTTP 500" in report.notes[0] and "HTTP 500" in report.text


def test_hang_past_timeout_falls_back(fake: FakeOpenAI, state: MarketState) -> None:
    fake.default = Reply(body=completion("{}"), delay=1.5)
    report = service(model_settings(fake, OPENAI_TIMEOUT=0.5, LLM_DEADLINE_SECONDS=1.2)).forecast(
        DEMO
    )
    assert report.narrator == "offline" and "timed out" in report.notes[0]
    assert 1 <= len(fake.requests) <= 3


def test_malformed_json_falls_back(fake: FakeOpenAI) -> None:
    fake.script = [Reply(body=completion("this is not json"))]
    report = service(model_settings(fake)).forecast(DEMO)
    assert report.narrator == "offline" and "not valid JSON" in report.notes[0]


def test_invented_number_is_repaired(fake: FakeOpenAI, state: MarketState) -> None:
    fake.script = [with_text(state, " Expect a move to 987.65."), good(state)]
    report = service(model_settings(fake)).forecast(DEMO)
    assert report.narrator == "model:test-model" and len(fake.requests) == 2
    repair = fake.chat_requests()[1]["messages"][-1]["content"]
    assert "987.65" in repair and "987.65" not in report.text


def test_invented_number_twice_is_cut_out(fake: FakeOpenAI, state: MarketState) -> None:
    """After a failed repair only the sentences that passed the check are shown."""
    bad = with_text(state, " Expect a move to 987.65.")
    fake.script = [bad, bad]
    report = service(model_settings(fake)).forecast(DEMO)
    assert report.narrator == "model:test-model" and "987.65" not in report.text
    assert OfflineNarrator().write(state).immediate_assessment in report.text


def test_nothing_left_after_cutting_falls_back(fake: FakeOpenAI, state: MarketState) -> None:
    bad = with_text(state, "", immediate_assessment="Expect a move to 987.65.")
    fake.script = [bad, bad]
    report = service(model_settings(fake)).forecast(DEMO)
    assert report.narrator == "offline" and "number check" in report.notes[0]
    assert "987.65" not in report.text


def test_flipped_call_is_never_shown(fake: FakeOpenAI, state: MarketState) -> None:
    flipped = "Bullish" if state.tomorrow.call != "Bullish" else "Bearish"
    bad = with_text(state, "", immediate_call=flipped)
    fake.script = [bad, bad]
    report = service(model_settings(fake)).forecast(DEMO)
    assert report.narrative.immediate_call == state.tomorrow.call
    assert f"**{flipped}**" not in report.text
    repair = fake.chat_requests()[1]["messages"][-1]["content"]
    assert f"immediate_call must be exactly '{state.tomorrow.call}'" in repair


def test_refusal_falls_back(fake: FakeOpenAI) -> None:
    fake.script = [Reply(body=completion(None, refusal="I can't help with that."))]
    report = service(model_settings(fake)).forecast(DEMO)
    assert report.narrator == "offline" and "declined" in report.notes[0]


def test_server_without_json_schema_gets_json_mode(fake: FakeOpenAI, state: MarketState) -> None:
    fake.script = [error(400, "response_format json_schema is not supported"), good(state)]
    report = service(model_settings(fake)).forecast(DEMO)
    assert report.narrator == "model:test-model"
    assert fake.chat_requests()[1]["response_format"] == {"type": "json_object"}


def test_concurrent_requests_make_one_call(fake: FakeOpenAI, state: MarketState) -> None:
    fake.default = Reply(body=good(state).body, delay=0.2)
    svc = service(model_settings(fake))
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(svc.forecast(DEMO))) for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake.requests) == 1
    assert len(reports) == 20 and {r.narrator for r in reports} == {"model:test-model"}


def test_token_budget_switches_to_offline(fake: FakeOpenAI, state: MarketState) -> None:
    fake.default = good(state)
    svc = service(model_settings(fake, LLM_DAILY_TOKEN_BUDGET=100))
    first = svc.forecast(DEMO)
    second = svc.forecast(DEMO, as_of=dt.date(2025, 12, 30))
    assert first.narrator == "model:test-model"
    assert second.narrator == "offline" and "LLM_DAILY_TOKEN_BUDGET" in second.notes[0]
    assert len(fake.requests) == 1


def test_no_key_means_offline_with_a_note(settings: Settings) -> None:
    report = AnalystService(settings).forecast(DEMO)
    assert report.narrator == "offline" and "OPENAI_API_KEY" in report.notes[0]
    assert AnalystService(settings).forecast(DEMO, offline=True).notes == ()


def test_key_never_logged(fake: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.script = [error(500), error(500), error(500)]
    service(model_settings(fake)).forecast(DEMO)
    assert SECRET not in caplog.text


PROMPT_TOKEN_BOUND = 3000


def test_forecast_prompt_stays_small() -> None:
    from bench.prompt_size import forecast_prompt_tokens
    from engine.build import build_state
    from engine.demo import demo_dataset

    dataset = demo_dataset()
    busiest = build_state(dataset, as_of=dt.date(2024, 6, 3))
    for state in (build_state(dataset), busiest):
        assert forecast_prompt_tokens(state) < PROMPT_TOKEN_BOUND


def test_a_false_statement_is_repaired_with_the_sentence_quoted(
    fake: FakeOpenAI, state: MarketState
) -> None:
    """No invented number at all: the reply says a rule fired that did not."""
    quiet = next(r.name for r in state.rules if not r.fired)
    fake.script = [with_text(state, f" {quiet} fired today."), good(state)]
    report = service(model_settings(fake)).forecast(DEMO)
    assert report.narrator == "model:test-model" and f"{quiet} fired today" not in report.text
    repair = fake.chat_requests()[1]["messages"][-1]["content"]
    assert f"{quiet} fired today." in repair and f"{quiet} did not fire" in repair
    assert "YYYY-MM-DD" in repair
