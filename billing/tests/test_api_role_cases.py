"""Roles in the API, case by case: what an attendant may not touch stays as it was, what
their work needs goes through, and the role is always the one in the request's tenant."""

from __future__ import annotations

import pytest
import time_machine
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from agenda.models import Agendamento
from billing.api.viewsets import TenantScopedViewSet
from billing.models import Membership
from billing.services import api_key_create
from chatbots import bots
from chatbots.api.serializers import ChatbotSerializer
from chatbots.models import Chatbot, Conversation
from clientes.models import Cliente
from pedidos.status import StatusPedido
from tests.factories import ClienteFactory, MembershipFactory, UserFactory

from .api_roles_support import APP_SECRET, NOW, TOKEN, World, client_as

AGENT, OWNER = Membership.Role.AGENT, Membership.Role.OWNER


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(tenant):
    return World(tenant)


@pytest.fixture
def meta_bot(tenant):
    return bots.chatbot_create(
        tenant=tenant,
        name="Padaria oficial",
        provider="meta",
        phone_number_id="1098765",
        access_token=TOKEN,
        app_secret=APP_SECRET,
    )


def jwt_client(user, tenant_slug: str) -> APIClient:
    """Logged in through the token endpoint, acting for `tenant_slug`."""
    client = APIClient()
    response = client.post(
        "/api/auth/token/",
        {"username": user.username, "password": "senha-forte-123"},
        format="json",
    )
    assert response.status_code == 200, response.content
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}", HTTP_X_TENANT=tenant_slug
    )
    return client


# --- What an attendant may not do ------------------------------------------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
def test_an_agent_cannot_change_a_bots_access_token_or_app_secret(tenant, meta_bot, method):
    agent = client_as(tenant, "agent")

    response = getattr(agent, method)(
        f"/api/chatbots/{meta_bot.pk}/",
        {
            "name": "Padaria oficial",
            "provider": "meta",
            "access_token": "TOKEN-DO-ATACANTE",
            "app_secret": "SEGREDO-DO-ATACANTE",
        },
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Seu papel na empresa “Padaria Pão Quente” é Atendente, que não permite alterar "
        "chatbots: é preciso ser Proprietário ou Administrador."
    )
    meta_bot.refresh_from_db()
    assert (meta_bot.access_token, meta_bot.app_secret) == (TOKEN, APP_SECRET)


def test_an_agent_cannot_delete_a_bot_or_a_cliente(tenant, world):
    agent = client_as(tenant, "agent")

    bot = agent.delete(f"/api/chatbots/{world.bot.pk}/")
    cliente = agent.delete(f"/api/clientes/{world.cliente.pk}/")

    assert (bot.status_code, cliente.status_code) == (403, 403)
    assert "não permite excluir chatbots" in bot.json()["detail"]
    assert "não permite excluir clientes" in cliente.json()["detail"]
    assert Chatbot.objects.filter(pk=world.bot.pk).exists()
    assert Cliente.objects.filter(pk=world.cliente.pk).exists()


def test_an_agent_cannot_run_the_connection_test_nor_read_lgpd_data(tenant, world):
    agent = client_as(tenant, "agent")

    check = agent.post(f"/api/chatbots/{world.bot.pk}/test-connection/")
    export = agent.post("/api/compliance/export/", {"phone": world.cliente.telefone}, format="json")

    assert check.status_code == 403
    assert "usar “test-connection” em chatbots" in check.json()["detail"]
    assert export.status_code == 403
    assert "exportar os dados pessoais de um cliente (LGPD)" in export.json()["detail"]


# --- The role of the request's tenant, never the highest anywhere ---------------------------


@pytest.fixture
def agent_here_owner_there(tenant, other_tenant):
    user = MembershipFactory(tenant=tenant, role=AGENT).user
    MembershipFactory(tenant=other_tenant, user=user, role=OWNER)
    return user


def test_an_agent_in_a_who_owns_b_is_an_agent_in_a(
    tenant, other_tenant, agent_here_owner_there, meta_bot
):
    cliente = ClienteFactory(tenant=tenant)
    in_a = jwt_client(agent_here_owner_there, tenant.slug)

    patch = in_a.patch(
        f"/api/chatbots/{meta_bot.pk}/", {"access_token": "TOKEN-DO-ATACANTE"}, format="json"
    )
    delete_bot = in_a.delete(f"/api/chatbots/{meta_bot.pk}/")
    delete_cliente = in_a.delete(f"/api/clientes/{cliente.pk}/")

    assert [patch.status_code, delete_bot.status_code, delete_cliente.status_code] == [403] * 3
    assert "é Atendente" in patch.json()["detail"]
    meta_bot.refresh_from_db()
    assert meta_bot.access_token == TOKEN
    assert Cliente.objects.filter(pk=cliente.pk).exists()


def test_the_same_user_is_an_owner_in_b_and_reaches_only_bs_rows(
    tenant, other_tenant, agent_here_owner_there, meta_bot
):
    theirs = bots.chatbot_create(tenant=other_tenant, name="Clínica", provider="stub")
    in_b = jwt_client(agent_here_owner_there, other_tenant.slug)

    changed = in_b.patch(
        f"/api/chatbots/{theirs.pk}/", {"access_token": "TOKEN-NOVO"}, format="json"
    )
    a_bot_from_b = in_b.patch(
        f"/api/chatbots/{meta_bot.pk}/", {"access_token": "TOKEN-NOVO"}, format="json"
    )

    assert changed.status_code == 200, changed.content
    theirs.refresh_from_db()
    assert theirs.access_token == "TOKEN-NOVO"
    assert a_bot_from_b.status_code == 404
    meta_bot.refresh_from_db()
    assert meta_bot.access_token == TOKEN


def test_without_x_tenant_a_member_of_two_tenants_must_choose(tenant, agent_here_owner_there):
    client = APIClient()
    client.force_authenticate(agent_here_owner_there)

    response = client.get("/api/chatbots/")

    assert response.status_code == 403
    assert "X-Tenant" in response.json()["detail"]


# --- What an attendant's work needs ----------------------------------------------------------


def test_an_agent_takes_a_conversation_over_and_tags_the_customer(tenant, world):
    agent = client_as(tenant, "agent")

    status = agent.patch(
        f"/api/chatbots/conversations/{world.conversation.pk}/", {"status": "human"}, format="json"
    )
    tags = agent.patch(
        f"/api/clientes/{world.cliente.pk}/", {"tags": ["vip", "retirada"]}, format="json"
    )

    assert (status.status_code, tags.status_code) == (200, 200)
    world.conversation.refresh_from_db()
    world.cliente.refresh_from_db()
    assert world.conversation.status == Conversation.Status.HUMAN
    assert sorted(world.cliente.tags) == ["retirada", "vip"]


def test_an_agent_confirms_an_appointment_and_moves_an_order(tenant, world):
    agent = client_as(tenant, "agent")

    confirmed = agent.post(f"/api/agenda/agendamentos/{world.agendamento.pk}/confirmar/")
    moved = agent.post(
        f"/api/pedidos/pedidos/{world.pedido.pk}/status/", {"status": "em_preparo"}, format="json"
    )

    assert (confirmed.status_code, moved.status_code) == (200, 200)
    world.agendamento.refresh_from_db()
    world.pedido.refresh_from_db()
    assert world.agendamento.status == Agendamento.Status.CONFIRMADO
    assert world.pedido.status == StatusPedido.EM_PREPARO


def test_members_read_everything_of_their_tenant_and_nothing_of_another(
    tenant, other_tenant, world
):
    mine = {
        "/api/chatbots/conversations/": world.conversation.pk,
        "/api/clientes/": world.cliente.pk,
        "/api/pedidos/pedidos/": world.pedido.pk,
        "/api/agenda/agendamentos/": world.agendamento.pk,
        "/api/chatbots/": world.bot.pk,
    }
    elsewhere = World(other_tenant)
    theirs = {
        "/api/chatbots/conversations/": elsewhere.conversation.pk,
        "/api/clientes/": ClienteFactory(tenant=other_tenant).pk,
        "/api/pedidos/pedidos/": elsewhere.pedido.pk,
        "/api/agenda/agendamentos/": elsewhere.agendamento.pk,
        "/api/chatbots/": elsewhere.bot.pk,
    }
    agent = client_as(tenant, "agent")

    for url, pk in mine.items():
        listed = agent.get(url).json()["results"]
        assert [row["id"] for row in listed] == [pk], url
        assert agent.get(f"{url}{pk}/").status_code == 200, url
        assert agent.get(f"{url}{theirs[url]}/").status_code == 404, url
    messages = agent.get(f"/api/chatbots/conversations/{elsewhere.conversation.pk}/messages/")
    assert messages.status_code == 404


# --- API keys and superusers ------------------------------------------------------------------


def test_an_api_key_acts_as_an_admin_of_its_own_tenant_only(tenant, other_tenant, meta_bot):
    _, key = api_key_create(tenant=other_tenant, name="ERP da clínica")
    theirs = APIClient()
    theirs.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_X_TENANT=tenant.slug)
    ours = client_as(tenant, "api_key")

    foreign = theirs.patch(
        f"/api/chatbots/{meta_bot.pk}/", {"access_token": "TOKEN-NOVO"}, format="json"
    )
    changed = ours.patch(
        f"/api/chatbots/{meta_bot.pk}/", {"access_token": "TOKEN-NOVO"}, format="json"
    )
    audit_log = ours.get("/api/compliance/audit/")

    assert foreign.status_code == 404  # the key acts for its tenant, whatever X-Tenant says
    assert changed.status_code == 200
    meta_bot.refresh_from_db()
    assert meta_bot.access_token == "TOKEN-NOVO"
    assert audit_log.status_code == 200


def test_a_superuser_acts_as_an_owner_of_the_tenant_named(tenant, meta_bot):
    client = APIClient()
    client.force_authenticate(UserFactory(is_superuser=True, username="root@example.com"))

    response = client.delete(f"/api/chatbots/{meta_bot.pk}/", HTTP_X_TENANT=tenant.slug)

    assert response.status_code == 204
    assert not Chatbot.objects.filter(pk=meta_bot.pk).exists()


# --- A new viewset is safe before anyone declares anything ---------------------------------


class UndeclaredViewSet(TenantScopedViewSet):
    queryset = Chatbot.objects.all()
    serializer_class = ChatbotSerializer


@pytest.mark.parametrize(
    ("method", "action", "expected"),
    [("get", "list", 200), ("post", "create", 403), ("delete", "destroy", 403)],
)
def test_a_new_viewset_lets_agents_read_and_nothing_more(tenant, world, method, action, expected):
    view = UndeclaredViewSet.as_view({method: action})
    request = getattr(APIRequestFactory(), method)("/x/", {}, format="json")
    force_authenticate(request, user=MembershipFactory(tenant=tenant, role=AGENT).user)
    kwargs = {"pk": world.bot.pk} if action == "destroy" else {}

    response = view(request, **kwargs)

    assert response.status_code == expected
    assert Chatbot.objects.filter(pk=world.bot.pk).exists()
