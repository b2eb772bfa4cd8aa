"""Bursts: a customer's quick texts are answered as one turn (chatbots.bursts), once, in order.

The clock is stopped (`clock`) and the engine's "answer me later" tasks are held by
`delayed` (tests/delayed.py) until the test moves the clock past them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chatbots import bursts, engine, inbound
from chatbots.models import InboundEvent, KnowledgeEntry, Message
from tests import meta
from tests.conversation import next_timestamp
from tests.factories import ChatbotFactory, InboundEventFactory

WINDOW_MS = 1500
GREETING = "Como posso ajudar"
SUNDAY = "Aos domingos abrimos das 18h às 23h."


@pytest.fixture
def bot(tenant):
    KnowledgeEntry.objects.create(tenant=tenant, question="Vocês abrem domingo?", answer=SUNDAY)
    return ChatbotFactory(
        tenant=tenant,
        provider="stub",
        flow="menu",
        options={"debounce_ms": WINDOW_MS, "ai_fallback": True},
    )


@pytest.fixture
def chat(chat_with, bot, delayed, clock):
    return chat_with(bot)


def texts(sent) -> list[str]:
    return [m.text for m in sent]


def events():
    return InboundEvent.objects.filter(kind=InboundEvent.Kind.MESSAGE).order_by("id")


def test_a_burst_is_answered_once_with_everything_that_was_said(chat, delayed, clock):
    assert chat.text("oi") == []
    clock.shift(0.8)
    assert chat.text("vocês abrem") == []
    clock.shift(0.8)
    assert chat.text("domingo?") == []
    assert set(events().values_list("state", flat=True)) == {InboundEvent.State.PENDING}

    clock.shift(1.0)  # 1.0 s after the last one: the customer may still be typing
    assert chat.during(delayed.run_due) == []
    clock.shift(0.6)
    sent = chat.during(delayed.run_due)

    # One turn: the greeting, and the answer to the question the three messages make.
    assert len(sent) == 2
    assert GREETING in sent[0].text
    assert sent[1].text == SUNDAY
    assert list(
        Message.objects.filter(direction="in").order_by("id").values_list("text", flat=True)
    ) == ["oi", "vocês abrem", "domingo?"]
    assert set(events().values_list("state", flat=True)) == {InboundEvent.State.DONE}
    # The later tasks of the burst's messages find nothing left to answer.
    clock.shift(10)
    assert chat.during(delayed.run_due) == []
    assert Message.objects.filter(direction="out").count() == 2


def test_a_message_after_the_window_is_answered_on_its_own(chat, delayed, clock):
    chat.text("oi")
    clock.shift(3)  # quiet for longer than the window: "oi" is a turn by itself
    greeting = chat.during(delayed.run_due)
    chat.text("1")  # "Horário e endereço" on the menu
    clock.shift(2)
    info = chat.during(delayed.run_due)

    assert texts(greeting) and GREETING in greeting[0].text
    assert len(info) == 1 and "segunda a sábado" in info[0].text
    assert chat.conversation.current_step == "informacoes"


def test_a_late_message_does_not_join_a_burst_still_waiting_for_its_task(chat, delayed, clock):
    chat.text("oi")
    clock.shift(3)  # "oi"'s turn is due, but its task has not run yet
    chat.text("1")

    # The new message's own task answers "oi" alone (it is a window older than "1")...
    assert GREETING in chat.last.text
    clock.shift(2)
    sent = chat.during(delayed.run_due)
    # ...and "1" is answered in its own turn, after it.
    assert "segunda a sábado" in texts(sent)[-1]
    assert (
        list(Message.objects.filter(direction="out").order_by("id").values_list("text", flat=True))[
            -1
        ]
        == sent[-1].text
    )


def test_a_step_expecting_one_answer_takes_the_last_word_of_a_burst(chat, delayed, clock):
    chat.text("oi")
    clock.shift(3)
    chat.during(delayed.run_due)  # the menu
    chat.text("hmm")
    chat.text("deixa eu ver")
    chat.text("1")
    clock.shift(2)
    sent = chat.during(delayed.run_due)

    assert len(sent) == 1 and "segunda a sábado" in sent[0].text
    assert chat.conversation.current_step == "informacoes"


def test_a_tap_is_answered_at_once_and_after_the_texts_before_it(chat, delayed, clock):
    chat.text("oi")
    clock.shift(3)
    chat.during(delayed.run_due)  # the menu
    chat.text("hmm")
    sent = chat.tap("info", "Horário e endereço")

    # The text before the tap is answered first (its burst ends at the tap), then the tap.
    assert "Não entendi" in sent[0].text
    assert "segunda a sábado" in sent[-1].text
    assert events().filter(state=InboundEvent.State.PENDING).count() == 0


def test_sair_in_a_burst_is_its_own_turn_and_opts_out(chat, delayed, clock, bot):
    chat.text("oi")
    clock.shift(3)
    chat.during(delayed.run_due)
    chat.text("não quero mais")
    chat.text("SAIR")
    clock.shift(2)
    chat.during(delayed.run_due)

    chat.conversation.cliente.refresh_from_db()
    assert chat.conversation.cliente.optout_em is not None
    assert any("VOLTAR" in m.text for m in chat.said())


def test_a_duplicate_delivery_inside_a_burst_is_answered_once(chat, delayed, clock, bot):
    first = meta.text_message(
        bot.phone_number_id, sender=chat.phone, body="oi", ts=next_timestamp()
    )
    chat.post(first)
    chat.post(first)  # Meta delivers the same message again
    chat.text("vocês abrem domingo?")
    clock.shift(2)
    sent = chat.during(delayed.run_due)

    assert events().count() == 2
    assert Message.objects.filter(direction="in").count() == 2
    assert len(sent) == 2 and sent[1].text == SUNDAY
    assert Message.objects.filter(direction="out").count() == 2


def test_a_customer_who_keeps_typing_is_answered_after_four_windows(chat, delayed, clock):
    for word in ["oi", "tudo", "bem", "com", "vocês", "?"]:
        chat.text(word)
        clock.shift(1.0)  # each within the window of the one before
    sent = chat.during(delayed.run_due)  # 6 s after the first: 4 windows of 1.5 s

    assert sent and GREETING in sent[0].text
    assert set(events().values_list("state", flat=True)) == {InboundEvent.State.DONE}


def test_a_crash_in_the_middle_of_a_burst_loses_nothing(chat, delayed, clock, monkeypatch):
    chat.text("oi")
    chat.text("vocês abrem domingo?")
    clock.shift(2)

    class WorkerKilled(BaseException):
        """The process dying mid-batch (an Exception would be a poison message instead: that
        message alone fails, chatbots/tests/test_processor.py)."""

    def crash(**kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patch, pytest.raises(WorkerKilled):
        patch.setattr("chatbots.outbox.queue.queue_mark_read", crash)
        chat.during(delayed.run_due)
    # Everything rolled back: the two messages are pending, nothing was recorded or sent.
    assert set(events().values_list("state", flat=True)) == {InboundEvent.State.PENDING}
    assert not Message.objects.exists()

    # The sweeper queues them again; they are answered once, as one turn.
    sent = chat.during(lambda: inbound.sweep(older_than_seconds=1))
    assert len(sent) == 2 and sent[1].text == SUNDAY
    assert set(events().values_list("state", flat=True)) == {InboundEvent.State.DONE}
    assert Message.objects.filter(direction="in").count() == 2


def test_the_first_task_waits_for_the_rest_of_the_window(chat, delayed):
    chat.text("oi")
    waits = [(due - timezone.now()).total_seconds() for due, _id in delayed.queued]
    assert waits == [pytest.approx(1.5)]


def test_debounce_ms_zero_answers_each_message_at_once(tenant, chat_with, delayed, clock):
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu", options={"debounce_ms": 0})
    chat = chat_with(bot)
    assert GREETING in chat.text("oi")[0].text
    assert "segunda a sábado" in chat.text("1")[0].text
    assert delayed.queued == []


def test_the_window_comes_from_the_setting_and_is_capped(tenant, settings):
    settings.CHATBOT_DEBOUNCE_MS = 800
    bot = ChatbotFactory(tenant=tenant, provider="stub")
    assert bursts.debounce_window(bot) == timedelta(milliseconds=800)
    bot.options = {"debounce_ms": 60_000}
    assert bursts.debounce_window(bot) == bursts.MAX_WINDOW
    bot.options = {"debounce_ms": "lots"}
    assert bursts.debounce_window(bot) == bursts.NO_WINDOW


def test_the_simulator_answers_at_once(tenant, settings):
    from chatbots.simulator import simulate_message

    settings.CHATBOT_DEBOUNCE_MS = 1500
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    replies = simulate_message(chatbot=bot, phone="5511987654321", text="oi")
    assert GREETING in replies[0].text


def test_a_task_for_a_message_already_answered_carries_a_later_one(tenant, settings):
    settings.CHATBOT_DEBOUNCE_MS = 1500
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    old = timedelta(seconds=5)
    first = InboundEventFactory(chatbot=bot, sender="5511987654321", text="oi")
    InboundEvent.objects.filter(pk=first.pk).update(received_at=first.received_at - old)
    engine.process_event(first.pk)
    second = InboundEventFactory(chatbot=bot, sender="5511987654321", text="1")
    InboundEvent.objects.filter(pk=second.pk).update(received_at=second.received_at - old)

    engine.process_event(first.pk)  # e.g. the task of "oi" delivered again

    second.refresh_from_db()
    assert second.state == InboundEvent.State.DONE
