"""Staff replies go through the outbox to the Graph API; notes never do."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from chatbots.models import Conversation, Message
from compliance.models import AuditLog
from inbox import services
from inbox.models import Note, StaffReply, Ticket
from tests.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db


def test_a_staff_reply_reaches_the_customer_and_marks_the_conversation_human(
    waiting, agent, fake_graph, run_commits
):
    before = len(fake_graph.sends)

    row = run_commits(lambda: services.staff_reply(waiting.conversation, agent, text="Oi, Maria!"))

    (send,) = fake_graph.sends[before:]
    assert (
        send.json["to"].lstrip("+") == waiting.phone and send.json["text"]["body"] == "Oi, Maria!"
    )
    row.refresh_from_db()
    assert row.status == Message.Status.SENT and row.direction == Message.Direction.OUT
    assert StaffReply.objects.get(message=row).author == agent
    ticket = Ticket.objects.get(pk=waiting.ticket.pk)
    assert ticket.assigned_to == agent and ticket.first_response_at is not None
    assert waiting.conversation.status == Conversation.Status.HUMAN


def test_the_first_response_time_is_kept_from_the_first_reply(waiting, agent, run_commits):
    run_commits(lambda: services.staff_reply(waiting.conversation, agent, text="Oi"))
    first = Ticket.objects.get(pk=waiting.ticket.pk).first_response_at

    run_commits(lambda: services.staff_reply(waiting.conversation, agent, text="Tudo bem?"))

    assert Ticket.objects.get(pk=waiting.ticket.pk).first_response_at == first


def test_outside_the_window_a_text_is_refused_and_nothing_is_sent(waiting, agent, fake_graph):
    before = len(fake_graph.sends)
    with time_machine.travel(timezone_now() + timedelta(hours=25)):
        with pytest.raises(services.WindowClosed) as refused:
            services.staff_reply(waiting.conversation, agent, text="Ainda precisa de ajuda?")

    assert refused.value.code == "outside_24h_window"
    assert "janela de 24 horas" in refused.value.detail
    assert len(fake_graph.sends) == before
    assert not StaffReply.objects.exists()


def test_outside_the_window_an_approved_template_goes(waiting, bot, agent, fake_graph, run_commits):
    MessageTemplateFactory(chatbot=bot, name="retomar_contato", param_count=1, language="pt_BR")
    before = len(fake_graph.sends)
    with time_machine.travel(timezone_now() + timedelta(hours=25)):
        run_commits(
            lambda: services.staff_reply(
                waiting.conversation, agent, template="retomar_contato", params=["Maria"]
            )
        )

    (send,) = fake_graph.sends[before:]
    assert send.json["type"] == "template"
    assert send.json["template"]["name"] == "retomar_contato"
    assert send.json["template"]["components"][0]["parameters"][0]["text"] == "Maria"


def test_a_template_that_is_not_approved_is_refused(waiting, bot, agent, fake_graph):
    MessageTemplateFactory(chatbot=bot, name="rascunho", approved=False)
    before = len(fake_graph.sends)

    with pytest.raises(services.TemplateRefused) as refused:
        services.staff_reply(waiting.conversation, agent, template="rascunho")

    assert refused.value.code == "template_not_approved"
    assert len(fake_graph.sends) == before
    assert not Message.objects.filter(status=Message.Status.FAILED).exists()


def test_a_note_never_reaches_the_graph_api(waiting, agent, fake_graph, run_commits):
    before = len(fake_graph.sends)

    note = run_commits(lambda: services.note_add(waiting.conversation, agent, "Cliente VIP"))

    assert fake_graph.sends[before:] == []
    assert Note.objects.get(pk=note.pk).text == "Cliente VIP"
    assert not Message.objects.filter(text__contains="Cliente VIP").exists()
    entry = AuditLog.objects.get(action="inbox.note_add")
    assert entry.actor_user == agent
    assert entry.changes["text"] == "[omitido]"  # the audit log never holds the words


def timezone_now():
    from django.utils import timezone

    return timezone.now()
