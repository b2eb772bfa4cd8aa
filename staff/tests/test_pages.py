"""The staff pages without a browser: who sees what, the reply box, notes, actions, tags."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Membership
from chatbots.models import Conversation, Message
from inbox import services as inbox_services
from inbox.models import Note, Queue, Ticket
from tests.factories import ConversationFactory, MembershipFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(tenant, fake_graph):
    suporte = Queue.objects.create(tenant=tenant, name="Suporte", slug="suporte")
    financeiro = Queue.objects.create(tenant=tenant, name="Financeiro", slug="financeiro")
    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    other = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    admin = MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN).user
    suporte.members.add(agent)
    financeiro.members.add(other)
    return {
        "suporte": suporte,
        "financeiro": financeiro,
        "agent": agent,
        "other": other,
        "admin": admin,
    }


def _waiting(tenant, queue, *, name="Maria", minutes_ago=0, wrote=True) -> Conversation:
    conversation = ConversationFactory(
        tenant=tenant,
        chatbot__tenant=tenant,
        cliente__nome=name,
        last_customer_message_at=timezone.now() - timedelta(minutes=minutes_ago)
        if wrote
        else timezone.now() - timedelta(days=3),
    )
    Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction=Message.Direction.IN,
        text=f"Oi, aqui é a {name}",
        status=Message.Status.RECEIVED,
    )
    ticket = inbox_services.ticket_open(conversation, queue)
    Ticket.objects.filter(pk=ticket.pk).update(
        opened_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return conversation


def test_a_visitor_is_sent_to_the_staff_login(client):
    response = client.get("/atendimento/conversas/")
    assert response.status_code == 302
    assert response.url.startswith("/atendimento/entrar/")


def test_someone_outside_every_tenant_is_told_so(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("fora", password="x"))
    response = client.get("/atendimento/conversas/")
    assert response.status_code == 403
    assert "não faz parte da equipe" in response.content.decode()


def test_the_waiting_list_is_oldest_first_with_the_waiting_time(client, tenant, team):
    _waiting(tenant, team["suporte"], name="Recente", minutes_ago=2)
    _waiting(tenant, team["suporte"], name="Antiga", minutes_ago=95)
    client.force_login(team["agent"])

    page = client.get("/atendimento/conversas/?estado=waiting").content.decode()

    assert page.index("Antiga") < page.index("Recente")
    assert "aguardando há 1 h" in page and "aguardando há 2 min" in page


def test_an_agent_never_sees_another_queues_conversation(client, tenant, team):
    conversation = _waiting(tenant, team["suporte"], name="Maria")
    client.force_login(team["other"])

    for state in ("waiting", "queues", "mine", "closed"):
        assert "Maria" not in client.get(f"/atendimento/conversas/?estado={state}").content.decode()
    assert client.get(f"/atendimento/conversas/{conversation.pk}/").status_code == 404
    assert client.post(f"/atendimento/conversas/{conversation.pk}/assumir/").status_code == 404
    # An admin sees it, in "all" too.
    client.force_login(team["admin"])
    assert "Maria" in client.get("/atendimento/conversas/?estado=all").content.decode()


def test_another_tenants_conversation_is_not_found(client, tenant, other_tenant, team):
    foreign_queue = Queue.objects.create(tenant=other_tenant, name="Vendas", slug="vendas")
    conversation = _waiting(other_tenant, foreign_queue)
    client.force_login(team["admin"])
    assert client.get(f"/atendimento/conversas/{conversation.pk}/").status_code == 404


def test_search_finds_by_name_phone_and_text(client, tenant, team):
    _waiting(tenant, team["suporte"], name="Joana")
    _waiting(tenant, team["suporte"], name="Pedro")
    client.force_login(team["agent"])

    found = client.get("/atendimento/conversas/?estado=waiting&q=aqui é a Joana").content.decode()

    assert "Joana" in found and "Pedro" not in found


def test_the_list_costs_the_same_queries_for_more_rows(
    client, tenant, team, django_assert_max_num_queries
):
    client.force_login(team["agent"])
    for n in range(2):
        _waiting(tenant, team["suporte"], name=f"Cliente {n}")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get("/atendimento/conversas/?estado=waiting")
    for n in range(2, 8):
        _waiting(tenant, team["suporte"], name=f"Cliente {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/atendimento/conversas/?estado=waiting").content.decode()
    assert "Cliente 7" in page


def test_take_and_reply_reach_the_customer(client, tenant, team, fake_graph, run_commits):
    conversation = _waiting(tenant, team["suporte"])
    client.force_login(team["agent"])

    client.post(f"/atendimento/conversas/{conversation.pk}/assumir/")
    run_commits(
        lambda: client.post(
            f"/atendimento/conversas/{conversation.pk}/responder/", {"text": "Oi, sou a Ana"}
        )
    )

    assert [r.json["text"]["body"] for r in fake_graph.sends] == ["Oi, sou a Ana"]
    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()
    assert "Em atendimento por" in page and "Oi, sou a Ana" in page


def test_with_the_window_closed_the_box_says_so_and_sends_a_template(
    client, tenant, team, fake_graph, run_commits
):
    conversation = _waiting(tenant, team["suporte"], wrote=False)
    MessageTemplateFactory(chatbot=conversation.chatbot, name="retorno_atendimento", param_count=1)
    client.force_login(team["agent"])

    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()
    assert "A janela de 24 horas do WhatsApp está fechada" in page
    assert "retorno_atendimento" in page

    refused = client.post(
        f"/atendimento/conversas/{conversation.pk}/responder/", {"text": "Oi"}, follow=True
    )
    assert "janela de 24 horas" in refused.content.decode()
    run_commits(
        lambda: client.post(
            f"/atendimento/conversas/{conversation.pk}/responder/",
            {"template": "retorno_atendimento", "params": ["Maria"]},
        )
    )
    assert [r.json["type"] for r in fake_graph.sends] == ["template"]
    assert fake_graph.sends[0].json["template"]["name"] == "retorno_atendimento"


def test_a_note_is_shown_to_staff_and_never_sent(client, tenant, team, fake_graph, run_commits):
    conversation = _waiting(tenant, team["suporte"])
    client.force_login(team["agent"])

    run_commits(
        lambda: client.post(
            f"/atendimento/conversas/{conversation.pk}/nota/", {"text": "Cliente VIP, cuidado"}
        )
    )

    assert fake_graph.sends == []
    assert Note.objects.get().text == "Cliente VIP, cuidado"
    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()
    assert "Nota interna" in page and "Cliente VIP, cuidado" in page


def test_a_transfer_to_another_queue_leaves_the_agents_sight(client, tenant, team):
    conversation = _waiting(tenant, team["suporte"])
    client.force_login(team["agent"])
    client.post(f"/atendimento/conversas/{conversation.pk}/assumir/")

    response = client.post(
        f"/atendimento/conversas/{conversation.pk}/transferir/",
        {"queue": team["financeiro"].pk, "user": "", "note": "É cobrança"},
        follow=True,
    )

    ticket = Ticket.objects.get(conversation=conversation)
    assert ticket.queue == team["financeiro"] and ticket.assigned_to is None
    assert "Conversa transferida." in response.content.decode()
    assert Note.objects.get(conversation=conversation).text == "É cobrança"
    client.force_login(team["other"])
    assert client.get(f"/atendimento/conversas/{conversation.pk}/").status_code == 200


def test_close_and_return_to_the_bot(client, tenant, team):
    closed = _waiting(tenant, team["suporte"], name="Ana")
    returned = _waiting(tenant, team["suporte"], name="Bia")
    client.force_login(team["agent"])

    client.post(f"/atendimento/conversas/{closed.pk}/encerrar/")
    client.post(f"/atendimento/conversas/{returned.pk}/devolver/")

    closed.refresh_from_db()
    returned.refresh_from_db()
    assert closed.status == Conversation.Status.CLOSED
    assert returned.status == Conversation.Status.BOT
    assert "Ana" in client.get("/atendimento/conversas/?estado=closed").content.decode()


def test_tags_are_edited_on_the_customer_panel(client, tenant, team):
    conversation = _waiting(tenant, team["suporte"])
    client.force_login(team["agent"])

    client.post(f"/atendimento/conversas/{conversation.pk}/etiquetas/", {"tags": "vip, atraso"})

    conversation.cliente.refresh_from_db()
    assert conversation.cliente.tags == ["atraso", "vip"]


def test_someone_in_two_tenants_picks_one(client, tenant, other_tenant, team):
    user = team["agent"]
    MembershipFactory(tenant=other_tenant, user=user, role=Membership.Role.AGENT)
    client.force_login(user)

    assert client.get("/atendimento/conversas/").url == "/atendimento/empresa/"
    client.post("/atendimento/empresa/", {"tenant": other_tenant.pk})

    page = client.get("/atendimento/conversas/").content.decode()
    assert other_tenant.name in page


def test_the_pages_load_only_our_own_static_files(client, tenant, team):
    """No CDN: every script, style and sound of the staff pages is served from here."""
    import re

    conversation = _waiting(tenant, team["suporte"])
    client.force_login(team["agent"])
    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()

    assets = re.findall(r'(?:src|href|data-sound)="([^"]+\.(?:js|css|wav))"', page)
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {
        "htmx.min.js",
        "ws.min.js",
        "atendimento.js",
        "atendimento.css",
        "notify.wav",
    }
    for asset in assets:
        assert asset.startswith("/static/"), asset
        response = client.get(asset)
        assert response.status_code == 200, asset
        if response.streaming:  # close the file
            b"".join(response.streaming_content)


def test_unread_messages_are_cleared_when_the_assignee_opens_the_conversation(client, tenant, team):
    conversation = _waiting(tenant, team["suporte"])
    ticket = Ticket.objects.get(conversation=conversation)
    inbox_services.ticket_take(ticket, team["agent"])
    Ticket.objects.filter(pk=ticket.pk).update(unread=3)
    client.force_login(team["admin"])
    assert ">3<" in client.get("/atendimento/conversas/?estado=all").content.decode()

    client.get(f"/atendimento/conversas/{conversation.pk}/")  # the admin peeks: still 3
    assert Ticket.objects.get(pk=ticket.pk).unread == 3
    client.force_login(team["agent"])
    client.get(f"/atendimento/conversas/{conversation.pk}/")

    assert Ticket.objects.get(pk=ticket.pk).unread == 0


def test_search_finds_by_name_and_by_the_phone_as_people_type_it(client, tenant, team):
    joana = _waiting(tenant, team["suporte"], name="Joana")
    _waiting(tenant, team["suporte"], name="Pedro")
    joana.cliente.telefone = "5511987654321"
    joana.cliente.save(update_fields=["telefone"])
    client.force_login(team["agent"])

    def found(term: str) -> set[str]:
        page = client.get("/atendimento/conversas/", {"estado": "waiting", "q": term})
        html = page.content.decode()
        return {name for name in ("Joana", "Pedro") if name in html}

    assert found("pedro") == {"Pedro"}
    assert found("5511987654321") == {"Joana"}
    assert found("(11) 98765-4321") == {"Joana"}
    assert found("98765 4321") == {"Joana"}


def test_the_customer_panel_shows_consent_open_orders_and_the_next_appointment(
    client, tenant, team
):
    from decimal import Decimal

    from pedidos.models import Pedido
    from pedidos.status import StatusPedido
    from tests.factories import AgendamentoFactory, ServicoFactory

    conversation = _waiting(tenant, team["suporte"])
    cliente = conversation.cliente
    cliente.telefone = "5511987654321"
    cliente.save(update_fields=["telefone"])
    Pedido.objects.create(tenant=tenant, cliente=cliente, status=StatusPedido.ENTREGUE)
    open_order = Pedido.objects.create(
        tenant=tenant, cliente=cliente, status=StatusPedido.EM_PREPARO
    )
    Pedido.objects.filter(pk=open_order.pk).update(total=Decimal("25.50"))
    when = timezone.localtime(timezone.now() + timedelta(days=2)).replace(
        hour=14, minute=30, second=0, microsecond=0
    )
    AgendamentoFactory(
        tenant=tenant,
        cliente=cliente,
        servico=ServicoFactory(tenant=tenant, nome="Corte de cabelo"),
        inicio=when,
    )
    client.force_login(team["agent"])

    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()

    panel = page[page.index('<aside class="customer">') :]
    assert f"#{open_order.pk} — Em preparo — R$ 25,50" in panel
    assert "Entregue" not in panel  # a delivered order is not open
    assert f"{when:%d/%m/%Y} 14:30 — Corte de cabelo" in panel
    assert "aceita" in panel
    assert '<a href="tel:+5511987654321">+55 11 98765-4321</a>' in panel

    from compliance.consent import consent_opt_out

    consent_opt_out(cliente=cliente, source="admin")
    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()
    assert "recusou" in page[page.index('<aside class="customer">') :]


def test_the_history_says_who_sent_each_message_and_why_one_failed(client, tenant, team):
    conversation = _waiting(tenant, team["suporte"])
    Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction=Message.Direction.OUT,
        text="Já separei seu pedido.",
        status=Message.Status.SENT,
        payload={"sent_from": "phone", "provider": "meta"},
    )
    Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction=Message.Direction.OUT,
        text="Seu pedido saiu.",
        status=Message.Status.FAILED,
        error_code="131026",
        error_detail="Mensagem não entregue: o número não está no WhatsApp.",
    )
    client.force_login(team["agent"])

    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()

    assert 'data-sender="customer"' in page and "Oi, aqui é a Maria" in page
    phone = page[page.index('data-sender="phone"') :]
    assert "Empresa (pelo celular)" in phone and "Já separei seu pedido." in phone
    failed = page[page.index('data-status="failed"') :]
    assert "Mensagem não entregue: o número não está no WhatsApp." in failed[:300]


def test_the_template_box_shows_what_each_template_says(client, tenant, team):
    conversation = _waiting(tenant, team["suporte"], wrote=False)
    MessageTemplateFactory(
        chatbot=conversation.chatbot,
        name="retorno_atendimento",
        param_count=1,
        body_text="Olá {{1}}, podemos continuar seu atendimento?",
    )
    client.force_login(team["agent"])

    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()

    assert "Olá {{1}}, podemos continuar seu atendimento?" in page


def test_managers_reach_the_queue_settings_and_agents_do_not(client, tenant, team):
    client.force_login(team["admin"])
    page = client.get("/atendimento/conversas/").content.decode()
    assert 'href="/admin/inbox/queue/"' in page
    assert 'href="/admin/inbox/quickreply/"' in page
    assert client.get("/admin/inbox/queue/").status_code == 200

    client.force_login(team["agent"])
    page = client.get("/atendimento/conversas/").content.decode()
    assert "/admin/inbox/queue/" not in page


def test_the_transfer_choices_say_who_is_available(client, tenant, team):
    conversation = _waiting(tenant, team["suporte"])
    team["other"].first_name = "Beto"
    team["other"].save()
    inbox_services.presence_set(team["other"], tenant, "away")
    client.force_login(team["agent"])

    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()

    assert f'<option value="{team["other"].pk}">Beto (Ausente)</option>' in page


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("5511987654321", "+55 11 98765-4321"),
        ("551133334444", "+55 11 3333-4444"),
        ("14155550123", "+14155550123"),
        ("", ""),
    ],
)
def test_a_phone_is_shown_as_people_write_it(stored, shown):
    from staff.selectors import phone_display

    assert phone_display(stored) == shown
