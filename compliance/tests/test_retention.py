"""Retention: exactly what is older than each policy goes, in bounded batches."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from chatbots.models import Chatbot, Conversation, InboundEvent, Message
from compliance import audit, retention
from compliance.models import AuditLog, RetentionPolicy
from tests import meta
from tests.factories import ClienteFactory

NOW = timezone.now()


def _age(model, pk, field: str, days: float):
    """Set a row's timestamp `days` ago (auto_now_add fields cannot be given on create)."""
    manager = model._default_manager.filter(pk=pk)
    if model is AuditLog:
        manager._erasure_redact(**{field: NOW - timedelta(days=days)})
    else:
        manager.update(**{field: NOW - timedelta(days=days)})


@pytest.fixture
def conversation(tenant):
    bot = Chatbot.objects.create(tenant=tenant, name="Bot", provider="stub")
    return Conversation.objects.create(
        tenant=tenant, chatbot=bot, cliente=ClienteFactory(tenant=tenant)
    )


def message(conversation, days: float, status=Message.Status.SENT, text="olá") -> Message:
    row = Message.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        direction=Message.Direction.OUT,
        text=text,
        payload={"kind": "text", "body": text},
        status=status,
    )
    _age(Message, row.pk, "created_at", days)
    return row


def event(conversation, days: float, state=InboundEvent.State.DONE) -> InboundEvent:
    row = InboundEvent.objects.create(
        tenant_id=conversation.tenant_id,
        provider="meta",
        chatbot=conversation.chatbot,
        external_id=meta.wamid(),
        kind=InboundEvent.Kind.MESSAGE,
        occurred_at=NOW,
        payload={"text": "x"},
        raw={"text": "x"},
        state=state,
    )
    _age(InboundEvent, row.pk, "received_at", days)
    return row


def entry(tenant, days: float) -> AuditLog:
    row = audit.record(tenant=tenant, actor="test", action="update")
    _age(AuditLog, row.pk, "created_at", days)
    return row


@pytest.fixture
def defaults(settings):
    settings.RETENTION_MESSAGE_TEXT_DAYS = 90
    settings.RETENTION_RAW_WEBHOOK_DAYS = 30
    settings.RETENTION_AUDIT_DAYS = 365


def test_it_removes_exactly_what_is_older_than_the_default_policy(conversation, tenant, defaults):
    old_msg, new_msg = message(conversation, 91), message(conversation, 89)
    queued = message(conversation, 200, status=Message.Status.QUEUED)
    old_event, new_event = event(conversation, 31), event(conversation, 29)
    pending = event(conversation, 60, state=InboundEvent.State.PENDING)
    old_entry, new_entry = entry(tenant, 366), entry(tenant, 364)

    report = retention.retention_run(now=NOW)

    old_msg.refresh_from_db()
    assert (old_msg.text, old_msg.payload) == ("", {})
    assert old_msg.status == Message.Status.SENT  # the row and its facts stay
    assert Message.objects.get(pk=new_msg.pk).text == "olá"
    assert Message.objects.get(pk=queued.pk).text == "olá"  # still to be sent
    assert set(InboundEvent.objects.values_list("pk", flat=True)) == {new_event.pk, pending.pk}
    assert set(AuditLog.objects.values_list("pk", flat=True)) == {new_entry.pk}
    assert report.rows == {
        "message_text": 1,
        "inbound_event": 1,
        "audit_log": 1,
        "inbox_note": 0,
        "staff_chat": 0,
        "integrations_delivery": 0,
    }
    assert not InboundEvent.objects.filter(pk=old_event.pk).exists()
    assert not AuditLog.objects.filter(pk=old_entry.pk).exists()


def test_a_tenants_own_policy_wins_over_the_default(conversation, tenant, other_tenant, defaults):
    RetentionPolicy.objects.create(tenant=tenant, message_text_days=7, audit_days=180)
    mine = message(conversation, 10)
    other_bot = Chatbot.objects.create(tenant=other_tenant, name="Outro", provider="stub")
    other_conv = Conversation.objects.create(
        tenant=other_tenant, chatbot=other_bot, cliente=ClienteFactory(tenant=other_tenant)
    )
    theirs = message(other_conv, 10)
    my_entry, their_entry = entry(tenant, 200), entry(other_tenant, 200)

    retention.retention_run(now=NOW)

    assert Message.objects.get(pk=mine.pk).text == ""
    assert Message.objects.get(pk=theirs.pk).text == "olá"
    assert not AuditLog.objects.filter(pk=my_entry.pk).exists()
    assert AuditLog.objects.filter(pk=their_entry.pk).exists()


def test_it_works_in_batches_of_the_configured_size(conversation, tenant, defaults, settings):
    settings.RETENTION_BATCH_SIZE = 2
    for _ in range(5):
        message(conversation, 100)
        event(conversation, 40)

    report = retention.retention_run(now=NOW)

    assert report.rows["message_text"] == 5 and report.rows["inbound_event"] == 5
    assert report.batches["message_text"] == 3  # 2 + 2 + 1
    assert report.batches["inbound_event"] == 3
    assert not Message.objects.exclude(text="").exists()


def test_a_second_run_finds_nothing_left(conversation, tenant, defaults):
    message(conversation, 100)
    retention.retention_run(now=NOW)
    assert retention.retention_run(now=NOW).rows == {
        "message_text": 0,
        "inbound_event": 0,
        "audit_log": 0,
        "inbox_note": 0,
        "staff_chat": 0,
        "integrations_delivery": 0,
    }


def test_counts_go_to_the_metric_and_the_task_reports_them(
    conversation, tenant, defaults, celery_eager
):
    from compliance.tasks import retention_run

    message(conversation, 100)
    before = (
        REGISTRY.get_sample_value("compliance_retention_rows_total", {"kind": "message_text"}) or 0
    )

    result = retention_run.delay().get()

    assert result["rows"]["message_text"] == 1
    after = REGISTRY.get_sample_value("compliance_retention_rows_total", {"kind": "message_text"})
    assert after == before + 1


def test_a_policy_keeps_audit_entries_at_least_six_months(tenant):
    from django.core.exceptions import ValidationError

    policy = RetentionPolicy(tenant=tenant, audit_days=30)
    with pytest.raises(ValidationError):
        policy.full_clean()


def test_the_weekly_and_hourly_jobs_are_in_the_beat_schedule(db):
    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask

    call_command("setup_periodic_tasks", stdout=io.StringIO())

    weekly = PeriodicTask.objects.get(task="compliance.tasks.retention_run")
    hourly = PeriodicTask.objects.get(task="compliance.tasks.reactivation_run")
    assert (weekly.crontab.day_of_week, weekly.crontab.hour) == ("0", "3")
    assert (hourly.crontab.minute, hourly.crontab.hour) == ("2", "*")
    assert hourly.queue == "bulk"


def test_internal_notes_and_the_staff_chat_go_at_the_message_text_age(
    conversation, tenant, other_tenant, defaults
):
    """What attendants wrote about a customer is kept no longer than the customer's own
    messages: old notes are blanked (the ticket still shows one was written), old internal
    chat messages deleted; another tenant's own, longer policy keeps theirs."""
    from inbox.models import Note, Queue
    from staff.models import ChatMessage, ChatRoom

    def note(days: float, on=conversation) -> Note:
        row = Note.objects.create(tenant=on.tenant, conversation=on, text="cliente bravo")
        _age(Note, row.pk, "created_at", days)
        return row

    def chat(days: float, owner) -> ChatMessage:
        queue, _ = Queue.objects.get_or_create(tenant=owner, slug="suporte", name="Suporte")
        room, _ = ChatRoom.objects.get_or_create(tenant=owner, kind="queue", queue=queue)
        row = ChatMessage.objects.create(tenant=owner, room=room, text="quem pega o 123?")
        _age(ChatMessage, row.pk, "created_at", days)
        return row

    other_bot = Chatbot.objects.create(tenant=other_tenant, name="B", provider="meta")
    other_conversation = Conversation.objects.create(
        tenant=other_tenant, chatbot=other_bot, cliente=ClienteFactory(tenant=other_tenant)
    )
    RetentionPolicy.objects.create(tenant=other_tenant, message_text_days=400)
    old_note, new_note, kept_note = note(91), note(89), note(200, on=other_conversation)
    old_chat, new_chat, kept_chat = chat(91, tenant), chat(89, tenant), chat(200, other_tenant)

    report = retention.retention_run(now=NOW)

    assert Note.objects.get(pk=old_note.pk).text == ""
    assert Note.objects.get(pk=new_note.pk).text == "cliente bravo"
    assert Note.objects.get(pk=kept_note.pk).text == "cliente bravo"
    assert set(ChatMessage.objects.values_list("pk", flat=True)) == {new_chat.pk, kept_chat.pk}
    assert not ChatMessage.objects.filter(pk=old_chat.pk).exists()
    assert (report.rows["inbox_note"], report.rows["staff_chat"]) == (1, 1)
