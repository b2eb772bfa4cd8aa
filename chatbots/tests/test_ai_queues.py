"""Model calls never run on the reply path: the engine queues them on `llm` and moves on.

No eager Celery here: tasks are published to the real Redis broker of the test run, so the
tests see which queue each one lands in, and the llm task is run by hand in a thread to
show that a slow model holds up nobody else.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from chatbots import engine
from chatbots.ai import assistant
from chatbots.models import Conversation, InboundEvent, Message
from chatbots.tests.ai_support import assistant_bot, menu_bot, padaria_data
from config.celery import app
from tests.factories import InboundEventFactory

QUEUES = ("replies", "outbound", "llm", "bulk", "default")


def store(bot, text: str, sender: str) -> InboundEvent:
    return InboundEventFactory(chatbot=bot, text=text, sender=sender)


def published() -> dict[str, list[tuple[str, list]]]:
    """Tasks waiting in each queue of the Redis broker: (task name, args)."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    found = {}
    for queue in QUEUES:
        found[queue] = []
        for raw in client.lrange(queue, 0, -1):
            envelope = json.loads(raw)
            args = json.loads(base64.b64decode(envelope["body"]))[0]
            found[queue].append((envelope["headers"]["task"], args))
    return found


@pytest.fixture
def broker():
    """The real Redis broker, emptied before and after (the cache shares its database)."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    client.delete(*QUEUES)
    assert not app.conf.task_always_eager
    # Declare every queue with its bindings, as the workers of a deployment do, so a task
    # routed wrongly (or copied to every queue) would show up in another queue's list.
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            queue.bind(conn.default_channel).declare()
    yield client
    client.delete(*QUEUES)


def test_the_llm_task_is_routed_to_the_llm_queue_and_the_reply_tasks_to_replies():
    route = app.amqp.router.route

    assert route({}, "chatbots.tasks.answer_llm", (1,), {})["queue"].name == "llm"
    assert route({}, "chatbots.tasks.process_inbound", (1,), {})["queue"].name == "replies"
    # Sends wait on Meta's API: their own queue, served by a threads pool (Procfile).
    for name in ("chatbots.tasks.send_outbound", "chatbots.tasks.mark_read"):
        assert route({}, name, (1,), {})["queue"].name == "outbound"


def test_a_worker_registers_the_llm_task_under_its_name():
    """A fresh process, as a worker starts: the task module is found without being imported
    by anything else first."""
    code = (
        "import django; django.setup()\n"
        "import sys\n"
        "from config.celery import app\n"
        "assert 'chatbots.ai.tasks' not in sys.modules\n"
        "app.loader.import_default_modules()\n"
        "assert 'chatbots.tasks.answer_llm' in app.tasks, sorted(app.tasks)\n"
        "assert app.tasks['chatbots.tasks.answer_llm'].__module__ == 'chatbots.ai.tasks'\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        timeout=60,
        env=env,
        cwd=str(django_settings.BASE_DIR),
    )


def test_the_engine_queues_the_model_call_on_llm_and_returns_without_calling_it(
    broker, fake_gemini, tenant, django_capture_on_commit_callbacks
):
    bot = assistant_bot(tenant)
    fake_gemini.delay_next(5)  # a call, if one were made here, would take 5 s
    first = store(bot, "oi", "5511911110001")
    with django_capture_on_commit_callbacks(execute=True):
        engine.process_event(first.pk)
    broker.delete(*QUEUES)
    event = store(bot, "vocês abrem domingo?", "5511911110001")

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        engine.process_event(event.pk)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert fake_gemini.requests == []
    inbound = Message.objects.get(direction="in", text="vocês abrem domingo?")
    tasks = published()
    assert tasks["llm"] == [("chatbots.tasks.answer_llm", [inbound.pk])]
    assert all(
        name != "chatbots.tasks.answer_llm"
        for q in ("replies", "outbound", "bulk", "default")
        for name, _a in tasks[q]
    )


@pytest.mark.django_db(transaction=True)
def test_a_slow_model_never_delays_another_customers_menu_reply_nor_the_same_customers_next(
    broker, fake_gemini, tenant, settings
):
    padaria_data(tenant)
    bot = menu_bot(tenant, options={"ai_fallback": True})
    alice, bruno = "5511922220001", "5511922220002"
    engine.process_event(store(bot, "oi", alice).pk)
    engine.process_event(store(bot, "quanto custa o pão de queijo?", alice).pk)
    question = Message.objects.get(direction="in", text="quanto custa o pão de queijo?")
    settings.GEMINI_TIMEOUT_SECONDS = 5.0
    fake_gemini.delay_next(2.0)  # the model takes 2 s to answer Alice
    fake_gemini.answer_with(answer="O pão de queijo custa R$ 4,50.")

    def llm_worker():
        try:
            assistant.answer_message(message_id=question.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=llm_worker)
    worker.start()
    deadline = time.monotonic() + 5
    while not fake_gemini.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_gemini.requests, "the llm task never called the model"

    # While the model thinks: Bruno's greeting, and Alice's own next message, go right away.
    started = time.monotonic()
    engine.process_event(store(bot, "oi", bruno).pk)
    engine.process_event(store(bot, "1", alice).pk)
    elapsed = time.monotonic() - started
    still_thinking = worker.is_alive()
    worker.join(10)

    assert still_thinking
    assert elapsed < 1.0
    bruno_conv = Conversation.objects.get(cliente__telefone=bruno)
    assert "Como posso ajudar" in bruno_conv.messages.get(direction="out").text
    alice_said = list(
        Conversation.objects.get(cliente__telefone=alice)
        .messages.filter(direction="out")
        .order_by("id")
        .values_list("text", flat=True)
    )
    assert "segunda a sábado" in alice_said[-2]  # her "1" was answered while the model worked
    assert alice_said[-1] == "O pão de queijo custa R$ 4,50."


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_llm_queue_answers_while_the_reply_path_goes_on(
    broker, fake_gemini, tenant, settings
):
    """A Celery worker consuming only `llm` (a thread here; a process in production) takes the
    task the engine queued; the reply path (this thread) never waits for it."""
    from celery.contrib.testing.worker import start_worker

    padaria_data(tenant)
    bot = menu_bot(tenant, options={"ai_fallback": True})
    alice, bruno = "5511933330001", "5511933330002"
    settings.GEMINI_TIMEOUT_SECONDS = 5.0
    fake_gemini.delay_next(1.5)
    fake_gemini.answer_with(answer="Aos domingos abrimos das 8h às 12h.")

    with start_worker(app, queues=["llm"], perform_ping_check=False, shutdown_timeout=15):
        engine.process_event(store(bot, "oi", alice).pk)
        engine.process_event(store(bot, "vocês abrem domingo?", alice).pk)  # -> llm queue
        deadline = time.monotonic() + 10
        while not fake_gemini.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        engine.process_event(store(bot, "oi", bruno).pk)
        bruno_took = time.monotonic() - started
        answered = None
        while time.monotonic() < deadline and answered is None:
            answered = Message.objects.filter(
                direction="out", text="Aos domingos abrimos das 8h às 12h."
            ).first()
            time.sleep(0.05)

    assert fake_gemini.requests, "the llm worker never called the model"
    assert bruno_took < 1.0
    assert answered is not None and answered.conversation.cliente.telefone == alice
    assert (
        Conversation.objects.get(cliente__telefone=bruno).messages.filter(direction="out").exists()
    )
    assert published()["outbound"]  # the answer's send went to the outbound queue, not run here


def test_a_reply_and_its_read_receipt_leave_as_one_task_on_the_outbound_queue(
    broker, tenant, django_capture_on_commit_callbacks
):
    bot = menu_bot(tenant)
    event = store(bot, "oi", "5511944440001")

    with django_capture_on_commit_callbacks(execute=True):
        engine.process_event(event.pk)

    (raw,) = broker.lrange("outbound", 0, -1)
    envelope = json.loads(raw)
    args, kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
    conversation = Conversation.objects.get(chatbot=bot)
    assert envelope["headers"]["task"] == "chatbots.tasks.send_outbound"
    assert (args, kwargs) == ([conversation.pk], {"read": [event.external_id]})
    assert published()["replies"] == []
