from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from chatbots.models import Message
from chatbots.outbox import wake
from chatbots.outbox.sender import Sender
from chatbots.outbox.tasks import sweep_outbound
from clientes.models import Cliente
from tests.factories import ChatbotFactory, MessageTemplateFactory

SP = ZoneInfo("America/Sao_Paulo")
MONDAY_TEN = datetime(2030, 5, 6, 10, 0, tzinfo=SP)


@pytest.fixture
def bot(tenant):
    return ChatbotFactory(tenant=tenant, name="Loja", messaging_limit_tier="TIER_1K")


@pytest.fixture
def promo(bot):
    return MessageTemplateFactory(
        chatbot=bot, name="promo_maio", param_count=1, category="MARKETING"
    )


def customers(tenant, n: int, *, start: int = 0, **fields) -> list[Cliente]:
    return Cliente.objects.bulk_create(
        [
            Cliente(tenant=tenant, nome=f"Cliente {i}", telefone=f"5511970{i:06d}", **fields)
            for i in range(start, start + n)
        ]
    )


@pytest.fixture
def clock():
    import time_machine

    with time_machine.travel(MONDAY_TEN, tick=False) as traveller:
        yield traveller


@pytest.fixture
def run(celery_eager, django_capture_on_commit_callbacks, fake_graph):
    """Do `action()` with its queued tasks executed, then let the outbox drain what the
    per-number rate governor (80 messages/s) deferred, a simulated second at a time;
    return the customers Meta was sent to.

    `run(action, clock, sender=True)` sends as production does with `manage.py run_sender`
    running: the queued rows wait for the batch sender (chatbots.outbox.sender), which
    claims and sends them SENDER_BATCH at a time, instead of one eager send task each."""

    def _run(action, clock=None, *, sender=False):
        before = len(fake_graph.sends)
        with contextlib.ExitStack() as stack:
            if sender:
                # The sender listens: queueing nudges it instead of publishing the task.
                stack.enter_context(
                    mock.patch.object(wake, "notify", return_value=wake.Taken(True, True))
                )
            with django_capture_on_commit_callbacks(execute=True):
                action()
            drain = Sender(batch=500, threads=1).run_once if sender else sweep_outbound
            for _second in range(100):
                if sender:
                    while drain():
                        pass
                if not Message.objects.filter(status=Message.Status.QUEUED).exists():
                    break
                if clock is not None:
                    clock.shift(timedelta(seconds=1))
                if not sender:
                    with django_capture_on_commit_callbacks(execute=True):
                        drain()
        return [r.json["to"] for r in fake_graph.sends[before:]]

    return _run
