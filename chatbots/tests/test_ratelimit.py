"""The per-number token bucket, driven by an injected clock (no wall-clock assertions)."""

from __future__ import annotations

import pytest

from chatbots.models import Chatbot
from chatbots.ratelimit import bucket_take, chatbot_take_token

T0 = 1_750_000_000.0


def grants(key: str, *, rate: float, times: list[float]) -> int:
    return sum(bucket_take(key=key, rate=rate, now=t).allowed for t in times)


@pytest.fixture(params=["redis", "local"])
def backend(request, settings):
    """The production bucket (Redis) and the embedded-mode one (in process) behave alike."""
    if request.param == "local":
        settings.REDIS_URL = ""
    return request.param


def test_it_grants_a_burst_of_n_then_refuses(backend):
    results = [bucket_take(key=f"b-{backend}", rate=5, now=T0) for _ in range(7)]

    assert [r.allowed for r in results] == [True] * 5 + [False] * 2
    assert results[-1].wait == pytest.approx(0.2)  # one token every 1/5 s


def test_it_grants_n_per_second_after_the_burst(backend):
    # A caller hammering every 1/16 s for 3 s: the initial burst of 4, then 4 per second.
    step = 1 / 16
    times = [T0 + i * step for i in range(int(3 / step) + 1)]

    assert grants(f"c-{backend}", rate=4, times=times) == 4 + 3 * 4


def test_a_token_comes_back_after_its_interval(backend):
    for _ in range(10):
        bucket_take(key=f"d-{backend}", rate=10, now=T0)

    assert not bucket_take(key=f"d-{backend}", rate=10, now=T0 + 0.05).allowed
    assert bucket_take(key=f"d-{backend}", rate=10, now=T0 + 0.15).allowed


def test_an_idle_bucket_holds_only_one_seconds_worth(backend):
    # Ten idle minutes do not buy a burst of 6,000 messages: Meta counts per second.
    times = [T0 + 600] * 20

    assert grants(f"e-{backend}", rate=10, times=[T0]) == 1
    assert grants(f"e-{backend}", rate=10, times=times) == 10


def test_each_number_has_its_own_bucket(tenant):
    padaria = Chatbot.objects.create(tenant=tenant, name="Padaria", messages_per_second=2)
    clinica = Chatbot.objects.create(tenant=tenant, name="Clínica", messages_per_second=2)

    padaria_results = [chatbot_take_token(chatbot=padaria, now=T0).allowed for _ in range(3)]
    clinica_results = [chatbot_take_token(chatbot=clinica, now=T0).allowed for _ in range(2)]

    assert padaria_results == [True, True, False]
    assert clinica_results == [True, True]


def test_zero_messages_per_second_turns_the_governor_off(tenant):
    bot = Chatbot.objects.create(tenant=tenant, name="Sem limite", messages_per_second=0)

    assert all(chatbot_take_token(chatbot=bot, now=T0).allowed for _ in range(500))
