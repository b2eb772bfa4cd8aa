"""Tickets: open, take, presence, and who sees which conversation."""

from __future__ import annotations

import pytest

from billing.models import Membership
from chatbots.models import Conversation
from compliance.models import AuditLog
from inbox import live, selectors, services
from inbox.models import AgentPresence, Queue, Ticket
from tests.factories import ConversationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_it_opens_a_waiting_ticket_in_the_default_queue(conversation):
    ticket = services.ticket_open(conversation)

    conversation.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING
    assert ticket.queue.is_default and ticket.queue.name == "Atendimento"
    assert conversation.status == Conversation.Status.WAITING
    assert AuditLog.objects.filter(action="inbox.ticket_open", object_id=str(ticket.pk)).exists()


def test_it_keeps_one_open_ticket_per_conversation(conversation, suporte):
    first = services.ticket_open(conversation, queue="suporte")
    again = services.ticket_open(conversation, queue="financeiro")

    assert again.pk == first.pk and again.queue == suporte
    assert Ticket.objects.filter(conversation=conversation).count() == 1


def test_an_unknown_queue_slug_reaches_the_default_queue(conversation):
    ticket = services.ticket_open(conversation, queue="nao-existe")

    assert ticket.queue.is_default


def test_the_default_queue_is_created_once(tenant):
    assert services.queue_default(tenant.pk) == services.queue_default(tenant.pk)
    assert Queue.objects.filter(tenant=tenant, is_default=True).count() == 1


def test_it_takes_a_ticket_and_the_conversation_is_with_a_person(conversation, suporte, agent):
    ticket = services.ticket_open(conversation, queue=suporte)

    services.ticket_take(ticket, agent)

    conversation.refresh_from_db()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN and ticket.assigned_to == agent
    assert ticket.assigned_at is not None
    assert conversation.status == Conversation.Status.HUMAN
    entry = AuditLog.objects.get(action="inbox.ticket_take")
    assert entry.actor_user == agent and entry.object_id == str(ticket.pk)


def test_a_taken_ticket_cannot_be_taken_by_another(conversation, suporte, agent, owner):
    ticket = services.ticket_open(conversation, queue=suporte)
    services.ticket_take(ticket, agent)

    with pytest.raises(services.TicketUnavailable):
        services.ticket_take(Ticket.objects.get(pk=ticket.pk), owner)
    assert Ticket.objects.get(pk=ticket.pk).assigned_to == agent


def test_someone_of_another_tenant_cannot_take(conversation, other_tenant):
    stranger = MembershipFactory(tenant=other_tenant).user
    ticket = services.ticket_open(conversation)

    with pytest.raises(services.NotInTenant):
        services.ticket_take(ticket, stranger)


def test_presence_is_recorded_per_tenant(tenant, agent):
    services.presence_set(agent, tenant, "online")
    services.presence_set(agent, tenant.pk, "away")

    presence = AgentPresence.objects.get(tenant=tenant, user=agent)
    assert presence.status == AgentPresence.Status.AWAY


def test_an_unknown_presence_is_refused(tenant, agent):
    with pytest.raises(services.InboxError):
        services.presence_set(agent, tenant, "dancing")


def test_agents_see_their_queues_and_their_own(
    tenant, suporte, financeiro, agent, other_agent, owner, membership_of
):
    in_suporte = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    in_financeiro = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    bot_only = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    services.ticket_open(in_suporte, queue=suporte)
    theirs = services.ticket_open(in_financeiro, queue=financeiro)

    mine = membership_of(agent)
    assert set(selectors.conversations_for(mine, "all")) == {in_suporte}
    assert selectors.membership_can_see(mine, in_suporte)
    assert not selectors.membership_can_see(mine, in_financeiro)
    assert not selectors.membership_can_see(mine, bot_only)

    # Assigned to them from another queue: they see it too.
    services.ticket_assign(theirs, owner, user=agent)
    assert selectors.membership_can_see(mine, in_financeiro)
    assert set(selectors.conversations_for(mine, "mine")) == {in_financeiro}

    boss = membership_of(owner)
    assert set(selectors.conversations_for(boss, "all")) == {in_suporte, in_financeiro, bot_only}


def test_another_tenant_sees_nothing(conversation, other_tenant):
    services.ticket_open(conversation)
    stranger = MembershipFactory(tenant=other_tenant, role=Membership.Role.OWNER)

    assert not selectors.conversations_for(stranger, "all").exists()
    assert not selectors.membership_can_see(stranger, conversation)


def test_waiting_lists_the_oldest_wait_first(tenant, suporte, owner, membership_of):
    first = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    second = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    services.ticket_open(first, queue=suporte)
    services.ticket_open(second, queue=suporte)
    second.save()  # the most recently active, still second in the waiting list

    waiting = list(selectors.conversations_for(membership_of(owner), "waiting"))

    assert waiting == [first, second]
    assert waiting[0].open_tickets[0].queue == suporte


def test_the_groups_of_a_staff_member(tenant, suporte, agent, owner, membership_of):
    assert live.groups_for(membership_of(agent)) == [
        f"inbox.t{tenant.pk}.u{agent.pk}",
        f"inbox.t{tenant.pk}.q{suporte.pk}",
    ]
    assert f"inbox.t{tenant.pk}.all" in live.groups_for(membership_of(owner))
