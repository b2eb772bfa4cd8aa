"""Bursts waited for, answered when the test's clock reaches them.

The processor waits for a customer's burst to end: it tells the dispatcher when the burst
comes due (chatbots.inbound.enqueue_later) and looks again then. Eager mode cannot wait, so
the `delayed` fixture takes those calls instead and drains when the clock (time-machine)
says one is due:

    def test_it_waits(chat_with, bot, delayed, clock):
        chat = chat_with(bot)
        chat.text("oi"); chat.text("quero pizza")   # nothing answered yet
        clock.shift(2)
        sent = chat.during(delayed.run_due)         # the burst's one answer

Immediate dispatches go to the real dispatcher, as without the fixture.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from chatbots import inbound, processor


class DelayedTasks:
    def __init__(self) -> None:
        self.queued: list[tuple[datetime, int]] = []  # (due, event id)

    def dispatch(self, event_id: int, delay: float = 0.0) -> None:
        if delay <= 0:
            processor.dispatch(event_id)
            return
        self.queued.append((timezone.now() + timedelta(seconds=delay), event_id))

    def run_due(self) -> int:
        """Drain for the waits due by now, earliest first; return how many were due."""
        now = timezone.now()
        due = sorted(q for q in self.queued if q[0] <= now)
        self.queued = [q for q in self.queued if q[0] > now]
        for _at, event_id in due:
            processor.dispatch(event_id)
        return len(due)


@pytest.fixture
def delayed(monkeypatch, celery_eager) -> DelayedTasks:
    tasks_later = DelayedTasks()
    monkeypatch.setattr(inbound, "_dispatch", tasks_later.dispatch)
    return tasks_later


@pytest.fixture
def clock():
    """A stopped clock (time-machine) the test moves: `clock.shift(seconds)`."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller
