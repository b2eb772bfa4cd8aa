"""Assign, transfer, close; automatic assignment; waiting timeouts; the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from billing.models import Membership
from chatbots.models import Conversation
from compliance.models import AuditLog
from inbox import services, waits
from inbox.models import Note, Queue, Ticket
from tests.factories import ConversationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def _agent(tenant, queue):
    user = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    queue.members.add(user)
    return user


def _waiting(tenant, queue):
    conversation = ConversationFactory(
        tenant=tenant, chatbot__tenant=tenant, last_customer_message_at=timezone.now()
    )
    return services.ticket_open(conversation, queue=queue)


def test_a_transfer_to_a_queue_waits_there_with_a_note(tenant, suporte, financeiro, agent):
    ticket = _waiting(tenant, suporte)
    services.ticket_take(ticket, agent)

    services.ticket_assign(ticket, agent, queue=financeiro, note="Assunto de boleto")

    ticket.refresh_from_db()
    assert ticket.queue == financeiro and ticket.assigned_to is None
    assert ticket.status == Ticket.Status.WAITING
    assert ticket.conversation.status == Conversation.Status.WAITING
    assert Note.objects.get(conversation=ticket.conversation).text == "Assunto de boleto"
    entry = AuditLog.objects.get(action="inbox.ticket_transfer")
    assert entry.changes["queue"] == ["suporte", "financeiro"]
    assert AuditLog.objects.filter(action="inbox.note_add").exists()


def test_an_assignment_to_a_person(tenant, suporte, agent, owner):
    ticket = _waiting(tenant, suporte)

    services.ticket_assign(ticket, owner, user=agent)

    ticket.refresh_from_db()
    assert ticket.assigned_to == agent and ticket.status == Ticket.Status.OPEN
    assert Conversation.objects.get(pk=ticket.conversation_id).status == "human"
    entry = AuditLog.objects.get(action="inbox.ticket_assign")
    assert entry.actor_user == owner and entry.changes["assigned_to"] == [None, agent.pk]


def test_a_person_of_another_tenant_cannot_be_assigned(tenant, other_tenant, suporte, owner):
    ticket = _waiting(tenant, suporte)
    stranger = MembershipFactory(tenant=other_tenant).user

    with pytest.raises(services.NotInTenant):
        services.ticket_assign(ticket, owner, user=stranger)


def test_close_is_audited_and_closes_once(tenant, suporte, agent):
    ticket = _waiting(tenant, suporte)
    services.ticket_take(ticket, agent)

    services.ticket_close(ticket, agent)

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED and ticket.closed_by == agent
    assert ticket.conversation.status == Conversation.Status.CLOSED
    assert AuditLog.objects.filter(action="inbox.ticket_close", actor_user=agent).count() == 1
    with pytest.raises(services.TicketUnavailable):
        services.ticket_close(ticket, agent)


# --- Automatic assignment ----------------------------------------------------------------


@pytest.fixture
def auto(suporte):
    suporte.auto_assign = True
    suporte.max_per_agent = 2
    suporte.save()
    return suporte


def test_round_robin_among_online_agents(tenant, auto):
    ana, bia, caio = (_agent(tenant, auto) for _ in range(3))
    for person in (ana, bia):
        services.presence_set(person, tenant, "online")
    services.presence_set(caio, tenant, "away")  # away: never chosen

    tickets = [_waiting(tenant, auto) for _ in range(4)]

    owners = [Ticket.objects.get(pk=t.pk).assigned_to for t in tickets]
    assert owners == [ana, bia, ana, bia]


def test_the_limit_per_agent_leaves_the_rest_waiting(tenant, auto):
    ana = _agent(tenant, auto)
    services.presence_set(ana, tenant, "online")

    tickets = [_waiting(tenant, auto) for _ in range(3)]

    statuses = [Ticket.objects.get(pk=t.pk).status for t in tickets]
    assert statuses == ["open", "open", "waiting"]
    # A slot frees up: the oldest waiting ticket goes to her.
    services.ticket_close(Ticket.objects.get(pk=tickets[0].pk), ana)
    assert Ticket.objects.get(pk=tickets[2].pk).assigned_to == ana


def test_an_agent_coming_online_takes_the_waiting_ones(tenant, auto):
    ana = _agent(tenant, auto)
    ticket = _waiting(tenant, auto)
    assert Ticket.objects.get(pk=ticket.pk).status == "waiting"

    services.presence_set(ana, tenant, "online")

    assert Ticket.objects.get(pk=ticket.pk).assigned_to == ana
    assert AuditLog.objects.filter(action="inbox.ticket_assign", actor_type="system").exists()


def test_an_online_agent_of_another_tenant_is_never_chosen(tenant, other_tenant, auto):
    stranger = MembershipFactory(tenant=other_tenant, role=Membership.Role.AGENT).user
    auto.members.add(stranger)  # a mistake in the queue's members
    services.presence_set(stranger, other_tenant, "online")

    ticket = _waiting(tenant, auto)

    assert Ticket.objects.get(pk=ticket.pk).status == "waiting"


def test_the_customer_hears_nothing_of_the_line_when_a_person_took_it_at_once(
    chat_with, bot, auto, tenant
):
    ana = _agent(tenant, auto)
    services.presence_set(ana, tenant, "online")
    chat = chat_with(bot)
    chat.text("oi")

    said = chat.tap("atendente")

    assert [m["text"]["body"] for m in said] == ["Vou chamar alguém."]
    assert chat.conversation.status == Conversation.Status.HUMAN
    assert chat.conversation.tickets.get().assigned_to == ana


# --- Waiting too long --------------------------------------------------------------------


def test_a_long_wait_gets_the_queues_message_once(waiting, suporte, fake_graph, run_commits):
    suporte.timeout_minutes = 10
    suporte.timeout_action = Queue.TimeoutAction.MESSAGE
    suporte.timeout_message = "Ainda estamos ocupados, {queue} já te responde."
    suporte.save()
    before = len(fake_graph.sends)

    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        assert run_commits(waits.waiting_timeouts_run) == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert run_commits(waits.waiting_timeouts_run) == 1
        assert run_commits(waits.waiting_timeouts_run) == 0

    sends = fake_graph.sends[before:]
    assert [s.json["text"]["body"] for s in sends] == [
        "Ainda estamos ocupados, Suporte já te responde."
    ]
    assert Ticket.objects.get(pk=waiting.ticket.pk).status == Ticket.Status.WAITING
    assert AuditLog.objects.filter(action="inbox.ticket_timeout_message").count() == 1


def test_a_long_wait_goes_back_to_the_bot(waiting, suporte, run_commits):
    suporte.timeout_minutes = 10
    suporte.timeout_action = Queue.TimeoutAction.BOT
    suporte.save()

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        run_commits(waits.waiting_timeouts_run)

    ticket = Ticket.objects.get(pk=waiting.ticket.pk)
    assert ticket.status == Ticket.Status.CLOSED and ticket.outcome == Ticket.Outcome.TIMEOUT
    assert waiting.conversation.status == Conversation.Status.BOT
    # The bot answers the customer's next message again.
    assert waiting.text("menu")[-1]["interactive"]["body"]["text"] == "Olá! Como posso ajudar?"


def test_the_wait_counts_only_while_the_queue_is_open(tenant, suporte, run_commits):
    from datetime import time

    from inbox.models import QueueHours

    QueueHours.objects.create(
        tenant=tenant, queue=suporte, weekday=0, opens=time(8), closes=time(18)
    )
    suporte.timeout_minutes = 30
    suporte.timeout_action = Queue.TimeoutAction.BOT
    suporte.save()
    # Opened Saturday 10:00 (closed); checked Monday 08:20: 20 open minutes only.
    with time_machine.travel("2026-03-07T13:00:00Z", tick=False):
        ticket = _waiting(tenant, suporte)
    with time_machine.travel("2026-03-09T11:20:00Z", tick=False):
        assert run_commits(waits.waiting_timeouts_run) == 0
    with time_machine.travel("2026-03-09T11:31:00Z", tick=False):
        assert run_commits(waits.waiting_timeouts_run) == 1
    assert Ticket.objects.get(pk=ticket.pk).outcome == Ticket.Outcome.TIMEOUT
