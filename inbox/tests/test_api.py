"""The inbox through the REST API: every route, the window's 409, templates, roles,
tenants, notes that never leave, and a list with a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from chatbots.models import Conversation, Message
from compliance.models import AuditLog
from inbox import services
from inbox.models import Note, Queue, QuickReply, Ticket
from tests.factories import ConversationFactory, MembershipFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

BASE = "/api/chatbots/conversations/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(conversation, tail=""):
    return f"{BASE}{conversation.pk}/{tail}"


@pytest.fixture
def as_agent(agent):
    return client_for(agent)


@pytest.fixture
def as_owner(owner):
    return client_for(owner)


# --- The list ----------------------------------------------------------------------------


def test_the_list_filters_by_status_queue_and_assignee(
    waiting, as_owner, owner, tenant, financeiro, agent
):
    other = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    services.ticket_open(other, queue=financeiro)
    services.ticket_take(waiting.ticket, agent)

    def ids(query):
        response = as_owner.get(BASE + query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("?status=human") == {waiting.conversation.pk}
    assert ids("?status=waiting") == {other.pk}
    assert ids(f"?queue={financeiro.pk}") == {other.pk}
    assert ids(f"?assigned={agent.pk}") == {waiting.conversation.pk}
    assert ids("?assigned=me") == set()
    row = as_owner.get(BASE + "?status=human").json()["results"][0]
    assert row["ticket"]["queue_name"] == "Suporte" and row["ticket"]["assigned_to"] == agent.pk


def test_the_list_filters_conversations_with_the_bot_and_closed_ones(
    waiting, as_owner, owner, tenant
):
    with_bot = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    services.ticket_close(waiting.ticket, owner)

    def ids(query):
        return {row["id"] for row in as_owner.get(BASE + query).json()["results"]}

    assert ids("?status=closed") == {waiting.conversation.pk}
    assert ids("?status=bot") == {with_bot.pk}
    assert ids("?status=waiting") == ids("?status=human") == set()


def test_assigned_me_is_the_callers(waiting, as_agent, agent):
    services.ticket_take(waiting.ticket, agent)

    rows = as_agent.get(BASE + "?assigned=me").json()["results"]

    assert [r["id"] for r in rows] == [waiting.conversation.pk]


def test_the_list_costs_the_same_queries_for_one_or_many(tenant, suporte, as_owner):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert as_owner.get(BASE).status_code == 200
        return len(ctx.captured_queries)

    services.ticket_open(ConversationFactory(tenant=tenant, chatbot__tenant=tenant), queue=suporte)
    one = queries()
    for _ in range(6):
        services.ticket_open(
            ConversationFactory(tenant=tenant, chatbot__tenant=tenant), queue=suporte
        )
    assert queries() == one


# --- Roles and tenants -------------------------------------------------------------------


def test_an_agent_cannot_see_another_queues_conversation(waiting, agent, other_agent):
    as_other = client_for(other_agent)

    assert as_other.get(BASE).json()["results"] == []
    assert as_other.get(url(waiting.conversation)).status_code == 404
    assert as_other.get(url(waiting.conversation, "messages/")).status_code == 404
    response = as_other.post(url(waiting.conversation, "messages/"), {"text": "oi"}, format="json")
    assert response.status_code == 404
    assert as_other.post(url(waiting.conversation, "close/")).status_code == 404


def test_an_agent_sees_their_queues_conversation(waiting, as_agent):
    rows = as_agent.get(BASE).json()["results"]

    assert [r["id"] for r in rows] == [waiting.conversation.pk]
    assert as_agent.get(url(waiting.conversation, "messages/")).status_code == 200


def test_another_tenant_sees_nothing(waiting, other_tenant):
    stranger = client_for(MembershipFactory(tenant=other_tenant).user)

    assert stranger.get(BASE).json()["results"] == []
    assert stranger.get(url(waiting.conversation)).status_code == 404
    assert stranger.post(url(waiting.conversation, "notes/"), {"text": "x"}).status_code == 404
    assert (
        stranger.post(
            url(waiting.conversation, "assign/"), {"user": None}, format="json"
        ).status_code
        == 404
    )


# --- Replies -----------------------------------------------------------------------------


def test_a_reply_is_queued_and_reaches_the_graph_api(
    waiting, as_agent, agent, fake_graph, run_commits
):
    before = len(fake_graph.sends)

    response = run_commits(
        lambda: as_agent.post(
            url(waiting.conversation, "messages/"), {"text": "Olá!"}, format="json"
        )
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "out" and body["text"] == "Olá!"
    assert body["status"] in ("queued", "sent")
    assert [s.json["text"]["body"] for s in fake_graph.sends[before:]] == ["Olá!"]
    assert Conversation.objects.get(pk=waiting.conversation.pk).status == "human"
    assert Ticket.objects.get(pk=waiting.ticket.pk).assigned_to == agent


def test_outside_the_window_a_text_is_409(waiting, as_agent, fake_graph):
    before = len(fake_graph.sends)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        response = as_agent.post(
            url(waiting.conversation, "messages/"), {"text": "Oi"}, format="json"
        )

    assert response.status_code == 409
    assert response.json()["code"] == "outside_24h_window"
    assert "janela de 24 horas" in response.json()["detail"]
    assert len(fake_graph.sends) == before


def test_outside_the_window_a_template_is_sent(waiting, bot, as_agent, fake_graph, run_commits):
    MessageTemplateFactory(chatbot=bot, name="retomar", param_count=1)
    before = len(fake_graph.sends)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        response = run_commits(
            lambda: as_agent.post(
                url(waiting.conversation, "messages/"),
                {"template": "retomar", "params": ["Maria"]},
                format="json",
            )
        )

    assert response.status_code == 201, response.content
    (send,) = fake_graph.sends[before:]
    assert send.json["template"]["name"] == "retomar"
    assert send.json["to"].lstrip("+") == waiting.conversation.cliente.telefone
    (body,) = [c for c in send.json["template"]["components"] if c["type"] == "body"]
    assert [p["text"] for p in body["parameters"]] == ["Maria"]
    assert response.json()["status"] in ("queued", "sent")


def test_a_reply_needs_text_or_a_template(waiting, as_agent):
    response = as_agent.post(url(waiting.conversation, "messages/"), {}, format="json")

    assert response.status_code == 400


# --- Actions -----------------------------------------------------------------------------


def test_take_then_a_second_take_is_409(waiting, as_agent, owner):
    assert as_agent.post(url(waiting.conversation, "take/")).status_code == 200

    response = client_for(owner).post(url(waiting.conversation, "take/"))

    assert response.status_code == 409 and response.json()["code"] == "ticket_unavailable"


def test_assign_to_a_person_and_transfer_to_a_queue(waiting, as_owner, agent, financeiro):
    response = as_owner.post(
        url(waiting.conversation, "assign/"), {"user": agent.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["ticket"]["assigned_to"] == agent.pk
    assert response.json()["status"] == "human"

    response = as_owner.post(
        url(waiting.conversation, "assign/"),
        {"user": None, "queue": financeiro.pk, "note": "É boleto"},
        format="json",
    )
    assert response.status_code == 200
    ticket = response.json()["ticket"]
    assert ticket["queue"] == financeiro.pk and ticket["assigned_to"] is None
    assert Note.objects.get(conversation=waiting.conversation).text == "É boleto"
    assert AuditLog.objects.filter(action="inbox.ticket_transfer").exists()


def test_assign_to_someone_outside_the_tenant_is_400(waiting, as_owner, other_tenant):
    stranger = MembershipFactory(tenant=other_tenant).user

    response = as_owner.post(
        url(waiting.conversation, "assign/"), {"user": stranger.pk}, format="json"
    )

    assert response.status_code == 400 and response.json()["code"] == "not_in_tenant"


def test_close_and_the_bot_answers_next(waiting, as_agent):
    response = as_agent.post(url(waiting.conversation, "close/"))

    assert response.status_code == 200 and response.json()["ticket"] is None
    assert response.json()["status"] == "closed"
    assert waiting.text("oi")[-1]["interactive"]["body"]["text"] == "Olá! Como posso ajudar?"
    assert as_agent.post(url(waiting.conversation, "close/")).status_code == 404


def test_return_to_bot(waiting, as_agent):
    response = as_agent.post(url(waiting.conversation, "return-to-bot/"))

    assert response.status_code == 200 and response.json()["status"] == "bot"
    assert AuditLog.objects.filter(action="inbox.ticket_return_to_bot").exists()


def test_notes_are_listed_and_never_sent(waiting, as_agent, agent, fake_graph, run_commits):
    before = len(fake_graph.sends)

    response = run_commits(
        lambda: as_agent.post(url(waiting.conversation, "notes/"), {"text": "Pediu 2ª via"})
    )

    assert response.status_code == 201, response.content
    notes = as_agent.get(url(waiting.conversation, "notes/")).json()
    assert [(n["text"], n["author"]) for n in notes] == [("Pediu 2ª via", agent.pk)]
    assert fake_graph.sends[before:] == []
    assert not Message.objects.filter(text__contains="2ª via").exists()


def test_an_api_key_replies_as_the_integration(waiting, key_client, fake_graph, run_commits):
    response = run_commits(
        lambda: key_client.post(
            url(waiting.conversation, "messages/"), {"text": "Olá"}, format="json"
        )
    )

    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(pk=waiting.ticket.pk)
    assert ticket.status == "open" and ticket.first_response_at is not None


# --- Queues and quick replies --------------------------------------------------------------


def test_members_read_queues_and_only_managers_write(tenant, suporte, as_agent, as_owner, agent):
    assert [q["slug"] for q in as_agent.get("/api/inbox/queues/").json()] == ["suporte"]
    payload = {
        "name": "Vendas",
        "slug": "vendas",
        "members": [agent.pk],
        "hours": [{"weekday": 0, "opens": "08:00", "closes": "18:00"}],
        "holidays": [{"date": "2026-12-25", "name": "Natal"}],
        "auto_assign": True,
        "max_per_agent": 3,
    }
    assert as_agent.post("/api/inbox/queues/", payload, format="json").status_code == 403

    response = as_owner.post("/api/inbox/queues/", payload, format="json")

    assert response.status_code == 201, response.content
    vendas = Queue.objects.get(slug="vendas")
    assert list(vendas.members.all()) == [agent]
    assert vendas.hours.get().opens.hour == 8 and vendas.holidays.get().name == "Natal"
    again = as_owner.post("/api/inbox/queues/", payload, format="json")
    assert again.status_code == 400 and "vendas" in str(again.json())


def test_a_queue_member_must_be_of_the_tenant(as_owner, other_tenant):
    stranger = MembershipFactory(tenant=other_tenant).user

    response = as_owner.post(
        "/api/inbox/queues/", {"name": "X", "slug": "x", "members": [stranger.pk]}, format="json"
    )

    assert response.status_code == 400


def test_quick_replies(tenant, suporte, financeiro, as_agent, as_owner):
    r = as_owner.post(
        "/api/inbox/quick-replies/",
        {"shortcut": "pix", "text": "Nossa chave Pix é...", "queue": financeiro.pk},
        format="json",
    )
    assert r.status_code == 201, r.content
    as_owner.post("/api/inbox/quick-replies/", {"shortcut": "oi", "text": "Olá!"}, format="json")
    assert (
        as_agent.post("/api/inbox/quick-replies/", {"shortcut": "a", "text": "b"}).status_code
        == 403
    )

    in_suporte = as_agent.get(f"/api/inbox/quick-replies/?queue={suporte.pk}").json()

    assert [q["shortcut"] for q in in_suporte] == ["oi"]
    assert QuickReply.objects.count() == 2
    duplicate = as_owner.post(
        "/api/inbox/quick-replies/", {"shortcut": "oi", "text": "de novo"}, format="json"
    )
    assert duplicate.status_code == 400


def test_another_tenants_queue_is_404(other_tenant, as_owner):
    theirs = Queue.objects.create(tenant=other_tenant, name="Deles", slug="deles")

    assert as_owner.get(f"/api/inbox/queues/{theirs.pk}/").status_code == 404


def test_the_docs_list_the_inbox_routes(as_owner):
    schema = as_owner.get("/api/schema/?format=json").json()

    for path in (
        "/api/chatbots/conversations/{id}/assign/",
        "/api/chatbots/conversations/{id}/close/",
        "/api/chatbots/conversations/{id}/return-to-bot/",
        "/api/chatbots/conversations/{conversation_id}/notes/",
        "/api/inbox/queues/",
        "/api/inbox/quick-replies/",
    ):
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/chatbots/conversations/{conversation_id}/messages/"]


def test_a_status_patched_by_hand_keeps_the_ticket_in_step(waiting, as_agent, agent):
    taken = as_agent.patch(url(waiting.conversation), {"status": "human"}, format="json")
    assert taken.status_code == 200 and taken.json()["ticket"]["assigned_to"] == agent.pk

    back = as_agent.patch(url(waiting.conversation), {"status": "bot"}, format="json")

    assert back.status_code == 200 and back.json()["ticket"] is None
    ticket = Ticket.objects.get(pk=waiting.ticket.pk)
    assert ticket.status == "closed" and ticket.outcome == "bot"


def test_the_admins_status_field_closes_the_ticket(client, owner, waiting):
    client.force_login(owner)

    response = client.post(
        f"/admin/chatbots/conversation/{waiting.conversation.pk}/change/",
        {"status": "closed", "messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Ticket.objects.get(pk=waiting.ticket.pk).status == "closed"
    assert Conversation.objects.get(pk=waiting.conversation.pk).status == "closed"
