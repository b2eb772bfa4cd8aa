"""Reactivation: once per eligible customer per window, never to opted-out customers, and
only the approved template."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chatbots.models import Conversation, Message, MessageTemplate
from compliance import consent, reactivation
from compliance.models import ConsentEvent, ReactivationSend
from tests.factories import (
    ChatbotFactory,
    ClienteFactory,
    ConversationFactory,
    MessageTemplateFactory,
)

SP = ZoneInfo("America/Sao_Paulo")
TEN_FIFTEEN = datetime(2030, 5, 6, 10, 15, tzinfo=SP)


@pytest.fixture
def bot(tenant):
    chatbot = ChatbotFactory(
        tenant=tenant, name="Loja", phone_number_id="4000001", access_token="reactivation-token"
    )
    MessageTemplateFactory(
        chatbot=chatbot, name="sentimos_sua_falta", param_count=1, purpose="reactivation"
    )
    return chatbot


def customer(bot, *, nome: str, silent_days: float, status=Conversation.Status.CLOSED):
    cliente = ClienteFactory(tenant=bot.tenant, nome=nome)
    ConversationFactory(
        chatbot=bot,
        cliente=cliente,
        status=status,
        last_customer_message_at=TEN_FIFTEEN - timedelta(days=silent_days),
    )
    return cliente


@pytest.fixture
def run(celery_eager, django_capture_on_commit_callbacks, fake_graph):
    """One reactivation run at `now`, its tasks and sends executed; returns Meta's sends."""

    def _run(now=TEN_FIFTEEN):
        before = len(fake_graph.sends)
        with django_capture_on_commit_callbacks(execute=True):
            reactivation.reactivation_run(now=now)
        return [r.json for r in fake_graph.sends[before:]]

    return _run


@pytest.fixture
def time_machine_now():
    import time_machine

    with time_machine.travel(TEN_FIFTEEN, tick=False) as traveller:
        yield traveller


def test_only_eligible_customers_get_the_template_once(bot, run, time_machine_now):
    quiet = customer(bot, nome="Alice Souza", silent_days=40)
    customer(bot, nome="Recente", silent_days=10)
    opted_out = customer(bot, nome="Saiu", silent_days=40)
    consent.consent_opt_out(cliente=opted_out, source=ConsentEvent.Source.KEYWORD, actor="test")
    customer(bot, nome="Com atendente", silent_days=40, status=Conversation.Status.HUMAN)
    cooled = customer(bot, nome="Reativado", silent_days=40)
    ReactivationSend.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        cliente=cooled,
        window=TEN_FIFTEEN.date() - timedelta(days=5),
    )

    sent = run()

    assert len(sent) == 1
    (body,) = sent
    assert body["type"] == "template"  # never free-form
    assert body["template"]["name"] == "sentimos_sua_falta"
    assert body["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Alice"}]
    assert body["to"] == f"+{quiet.telefone}"
    send = ReactivationSend.objects.get(cliente=quiet)
    assert send.status == ReactivationSend.Status.QUEUED
    assert send.message.type == "template"


def test_a_second_run_in_the_same_window_sends_nothing(bot, run, time_machine_now):
    customer(bot, nome="Alice", silent_days=40)

    assert len(run()) == 1
    assert run(now=TEN_FIFTEEN + timedelta(minutes=30)) == []
    assert ReactivationSend.objects.count() == 1


def test_the_next_day_the_cooldown_holds(bot, run, time_machine_now):
    customer(bot, nome="Alice", silent_days=40)
    run()
    time_machine_now.move_to(TEN_FIFTEEN + timedelta(days=1))
    assert run(now=TEN_FIFTEEN + timedelta(days=1)) == []


def test_sair_after_scheduling_stops_the_send_and_records_why(
    bot, celery_eager, django_capture_on_commit_callbacks, fake_graph, time_machine_now
):
    alice = customer(bot, nome="Alice", silent_days=40)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reactivation.reactivation_run(now=TEN_FIFTEEN)
    consent.consent_opt_out(cliente=alice, source=ConsentEvent.Source.KEYWORD, actor="test")
    for callback in callbacks:
        callback()

    assert fake_graph.sends == []
    send = ReactivationSend.objects.get()
    assert (send.status, send.error_code) == (ReactivationSend.Status.REFUSED, "opted_out")
    assert Message.objects.get().error_code == "opted_out"


def test_it_acts_at_ten_in_each_tenants_own_time_zone(bot, run, other_tenant, time_machine_now):
    customer(bot, nome="Alice", silent_days=40)
    manaus_bot = ChatbotFactory(
        tenant=other_tenant, name="Manaus", phone_number_id="4000002", access_token="manaus-token"
    )
    MessageTemplateFactory(chatbot=manaus_bot, name="volte", purpose="reactivation")
    other_tenant.time_zone = "America/Manaus"  # one hour behind São Paulo
    other_tenant.save()
    customer(manaus_bot, nome="Bruno", silent_days=40)

    assert run(now=TEN_FIFTEEN - timedelta(hours=1)) == []  # 09:15 in both
    first = run(now=TEN_FIFTEEN)  # 10:15 São Paulo, 09:15 Manaus
    second = run(now=TEN_FIFTEEN + timedelta(hours=1))  # 11:15 São Paulo, 10:15 Manaus

    assert [s["template"]["name"] for s in first] == ["sentimos_sua_falta"]
    assert [s["template"]["name"] for s in second] == ["volte"]


def test_a_run_is_capped_oldest_silence_first(bot, run, settings, time_machine_now):
    settings.REACTIVATION_MAX_PER_RUN = 2
    customer(bot, nome="Quarenta", silent_days=40)
    customer(bot, nome="Cem", silent_days=100)
    customer(bot, nome="Sessenta", silent_days=60)

    sent = run()

    names = [s["template"]["components"][0]["parameters"][0]["text"] for s in sent]
    assert names == ["Cem", "Sessenta"]


def test_a_bot_without_an_approved_template_sends_nothing(bot, run, time_machine_now):
    MessageTemplate.objects.update(approved=False)
    customer(bot, nome="Alice", silent_days=40)
    assert run() == []
    assert not ReactivationSend.objects.exists()


def test_a_bot_may_change_the_inactivity_threshold(bot, run, time_machine_now):
    bot.options = {"reactivation_inactive_days": 7}
    bot.save()
    customer(bot, nome="Dez", silent_days=10)
    assert len(run()) == 1


def test_sends_are_spread_under_the_rate(
    bot, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.REACTIVATION_SENDS_PER_SECOND = 2
    for i in range(4):
        customer(bot, nome=f"C{i}", silent_days=40 + i)
    countdowns = []
    monkeypatch.setattr(
        "compliance.tasks.reactivation_send.apply_async",
        lambda args, countdown, queue: countdowns.append((countdown, queue)),
    )

    with django_capture_on_commit_callbacks(execute=True):
        reactivation.reactivation_run(now=TEN_FIFTEEN)

    assert countdowns == [(0.0, "bulk"), (0.5, "bulk"), (1.0, "bulk"), (1.5, "bulk")]
