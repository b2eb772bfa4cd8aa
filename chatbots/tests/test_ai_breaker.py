"""The circuit breaker in front of Gemini: shared state in Redis, open, half-open, closed."""

from __future__ import annotations

import logging
import time

import pytest
import time_machine
from prometheus_client import REGISTRY

from chatbots.ai.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, gemini_breaker
from chatbots.tests.ai_support import assistant_bot, buttons_of, padaria_data


def state_metric() -> float | None:
    return REGISTRY.get_sample_value("chatbot_ai_breaker_state", {"name": "gemini"})


def test_n_failures_within_the_window_open_it_and_fewer_do_not():
    breaker = CircuitBreaker("unit", failures=3, window=60, open_for=30)

    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state() == CLOSED and breaker.allow()

    breaker.record_failure()
    assert breaker.state() == OPEN
    assert not breaker.allow()


def test_failures_spread_wider_than_the_window_do_not_open_it():
    breaker = CircuitBreaker("spread", failures=2, window=1, open_for=30)

    breaker.record_failure()
    time.sleep(1.1)  # the window is a key that expires in Redis
    breaker.record_failure()

    assert breaker.state() == CLOSED


def test_every_worker_sees_the_same_state():
    one = CircuitBreaker("shared", failures=2, window=60, open_for=30)
    other = CircuitBreaker("shared", failures=2, window=60, open_for=30)  # another process

    one.record_failure()
    other.record_failure()

    assert one.state() == OPEN and other.state() == OPEN


def test_after_the_open_period_exactly_one_probe_goes_and_its_success_closes_it(caplog):
    breaker = CircuitBreaker("probe", failures=1, window=60, open_for=30)
    with caplog.at_level(logging.WARNING, logger="chatbots.ai.breaker"):
        breaker.record_failure()

    with time_machine.travel(time.time() + 31, tick=False):
        assert breaker.state() == HALF_OPEN
        assert breaker.allow()  # the probe
        assert not breaker.allow()  # everyone else waits for it
        with caplog.at_level(logging.WARNING, logger="chatbots.ai.breaker"):
            breaker.record_success()
        assert breaker.state() == CLOSED and breaker.allow()
    messages = [r.getMessage() for r in caplog.records]
    assert any("opened" in m for m in messages) and any("closed" in m for m in messages)


def test_a_failed_probe_opens_it_again_for_the_whole_period():
    breaker = CircuitBreaker("reopen", failures=1, window=60, open_for=30)
    breaker.record_failure()
    later = time.time() + 31

    with time_machine.travel(later, tick=False):
        assert breaker.allow()
        breaker.record_failure()
        assert breaker.state() == OPEN
    with time_machine.travel(later + 29, tick=False):
        assert breaker.state() == OPEN
    with time_machine.travel(later + 31, tick=False):
        assert breaker.state() == HALF_OPEN


# --- With the assistant ----------------------------------------------------------------------


@pytest.fixture
def say(chat_with):
    def _say(bot, body, sender):
        chat = chat_with(bot, phone=sender)
        chat.text("oi")  # a first message only opens the chat
        started = time.monotonic()
        replies = chat.text(body)
        elapsed = time.monotonic() - started
        return replies, elapsed

    return _say


def test_five_failures_open_it_and_the_next_customer_gets_the_fallback_at_once_without_a_call(
    say, fake_gemini, settings, tenant
):
    settings.GEMINI_RETRY_ATTEMPTS = 1  # one request per failed call, to count them plainly
    padaria_data(tenant)
    bot = assistant_bot(tenant)
    fake_gemini.fail_next(status=503, times=50)

    for n in range(5):
        replies, _elapsed = say(bot, "vocês têm pão integral?", f"55119000000{n:02d}")
        assert [t for _i, t in buttons_of(replies[0])] == ["Ver menu", "Falar com atendente"]
    assert len(fake_gemini.requests) == 5
    assert gemini_breaker().state() == OPEN
    assert state_metric() == 2

    replies, elapsed = say(bot, "vocês têm pão integral?", "5511900000099")

    assert len(fake_gemini.requests) == 5  # no call
    assert [t for _i, t in buttons_of(replies[0])] == ["Ver menu", "Falar com atendente"]
    assert elapsed < 1.0  # answered in the engine's own turn
    # The knowledge still answers what it knows while the model is away.
    replies, _elapsed = say(bot, "abrem domingo?", "5511900000098")
    assert replies[0].text == "Aos domingos abrimos das 8h às 12h."
    assert len(fake_gemini.requests) == 5


def test_when_the_model_is_back_one_probe_closes_the_breaker(say, fake_gemini, settings, tenant):
    settings.GEMINI_RETRY_ATTEMPTS = 1
    bot = assistant_bot(tenant)
    fake_gemini.fail_next(status=503, times=5)
    for n in range(5):
        say(bot, "tem pão integral?", f"55119000001{n:02d}")
    assert gemini_breaker().state() == OPEN
    fake_gemini.answer_with(answer="Temos sim, sai às 16h.")

    with time_machine.travel(time.time() + settings.GEMINI_BREAKER_OPEN_SECONDS + 1):
        replies, _elapsed = say(bot, "tem pão integral?", "5511900000200")

    assert replies[0].text == "Temos sim, sai às 16h."
    assert gemini_breaker().state() == CLOSED
    assert state_metric() == 0
