"""The sender's pace (chatbots.outbox.pace): as many threads as the provider's answer time
needs. A slow provider (Meta: 100–300 ms a call) gets every thread; a provider that answers
at once, with the process bound by its CPU, gets one, since more would only queue for the
interpreter lock."""

from __future__ import annotations

from chatbots.outbox.pace import Pace


def test_before_anything_is_measured_a_round_uses_every_thread_it_can():
    pace = Pace(16)
    assert pace.workers(20) == 16
    assert pace.workers(3) == 3
    assert pace.workers(1) == 1


def test_a_slow_provider_keeps_every_thread_busy():
    pace = Pace(16)
    # 20 calls of 150 ms on 16 threads: 0.3 s of wall clock, the process nearly idle.
    pace.observe(workers=16, calls=20, waited=3.0, wall=0.3, cpu=0.03)
    assert pace.workers(20) == 16


def test_a_provider_that_answers_at_once_leaves_one_thread_when_the_cpu_is_the_limit():
    pace = Pace(16)
    # 20 calls of ~1.5 ms, the process busy the whole round: bound by its CPU.
    for _round in range(5):
        workers = pace.workers(20)
        pace.observe(workers=workers, calls=20, waited=0.03, wall=0.03, cpu=0.029)
    assert pace.workers(20) == 1


def test_threads_come_back_when_the_provider_slows_down():
    pace = Pace(16)
    for _round in range(5):
        pace.observe(workers=pace.workers(20), calls=20, waited=0.03, wall=0.03, cpu=0.029)
    assert pace.workers(20) == 1
    # Meta now takes 200 ms a call: the process waits, the threads double back each round.
    seen = []
    for _round in range(5):
        workers = pace.workers(20)
        seen.append(workers)
        pace.observe(workers=workers, calls=20, waited=20 * 0.2, wall=4.0 / workers, cpu=0.03)
    assert seen[0] >= 1 and seen[-1] == 16
    assert seen == sorted(seen)


def test_a_moderate_provider_gets_what_the_rows_waiting_needs():
    pace = Pace(16)
    # 5 ms a call, the process mostly waiting: 20 x 5 ms spread over 25 ms rounds = 4 threads.
    pace.observe(workers=16, calls=20, waited=0.1, wall=0.02, cpu=0.004)
    assert pace.workers(20) == 4
