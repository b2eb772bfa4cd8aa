"""/api/chatbots/: bots, nested steps, conversations and messages, each tenant-isolated."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from billing.models import Membership
from billing.services import api_key_create, subscription_start
from chatbots import bots
from chatbots.models import Chatbot, Conversation, Message, Step
from tests.factories import ClienteFactory, MembershipFactory, PlanFactory

URL = "/api/chatbots/"
SECRETS = ("TOKEN-PLANTADO-123", "APPSECRET-PLANTADO-456", "APIKEY-PLANTADA-789")
END = "chatbots.handlers.generic.EndHandler"
MESSAGE = "chatbots.handlers.generic.MessageHandler"


def client_for(tenant) -> APIClient:
    _, key = api_key_create(tenant=tenant, name="teste")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def client(key_client):
    return key_client


@pytest.fixture
def bot(tenant):
    return bots.chatbot_create(tenant=tenant, name="Padaria", provider="stub")


@pytest.fixture
def other_bot(other_tenant):
    bot = bots.chatbot_create(tenant=other_tenant, name="Clínica", provider="stub")
    bots.step_create(chatbot=bot, code="fim", handler_path=END, order=1, config={})
    return bot


def conversation(bot, **kwargs) -> Conversation:
    cliente = kwargs.pop("cliente", None) or ClienteFactory(tenant_id=bot.tenant_id)
    return Conversation.objects.create(
        tenant_id=bot.tenant_id, chatbot=bot, cliente=cliente, **kwargs
    )


def add_message(conv, text, direction=Message.Direction.IN):
    status = Message.Status.RECEIVED if direction == Message.Direction.IN else Message.Status.SENT
    return Message.objects.create(
        tenant_id=conv.tenant_id, conversation=conv, direction=direction, text=text, status=status
    )


# --- Bots ---------------------------------------------------------------------------------


def test_it_lists_only_the_tenants_bots(client, bot, other_bot):
    response = client.get(URL)
    assert response.status_code == 200
    assert [b["name"] for b in response.json()["results"]] == ["Padaria"]


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_another_tenants_bot_is_not_found(client, other_bot, method):
    response = getattr(client, method)(f"{URL}{other_bot.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 404
    other_bot.refresh_from_db()
    assert other_bot.name == "Clínica"


def test_secrets_are_written_but_never_appear_in_any_response(client):
    token, app_secret, api_key = SECRETS
    created = client.post(
        URL,
        {
            "name": "Loja",
            "provider": "stub",
            "access_token": token,
            "app_secret": app_secret,
            "provider_secrets": {"api_key": api_key},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    bot_url = f"{URL}{created.json()['id']}/"
    responses = [
        created,
        client.get(URL),
        client.get(bot_url),
        client.patch(bot_url, {"name": "Loja 2"}, format="json"),
        client.put(bot_url, {"name": "Loja 3", "provider": "stub"}, format="json"),
    ]
    for response in responses:
        assert response.status_code == 200 or response.status_code == 201
        for secret in SECRETS:
            assert secret not in response.content.decode()
    body = client.get(bot_url).json()
    assert body["access_token_set"] and body["app_secret_set"] and body["provider_secrets_set"]
    assert "access_token" not in body
    stored = Chatbot.objects.get(pk=body["id"])
    assert (stored.access_token, stored.app_secret) == (token, app_secret)


def test_an_empty_secret_keeps_the_stored_one_and_null_erases_it(client, tenant):
    bot = bots.chatbot_create(
        tenant=tenant, name="Loja", provider="stub", access_token="t1", app_secret="s1"
    )
    response = client.patch(
        f"{URL}{bot.pk}/", {"access_token": "", "app_secret": None}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["access_token_set"] is True
    assert response.json()["app_secret_set"] is False
    bot.refresh_from_db()
    assert (bot.access_token, bot.app_secret) == ("t1", "")


def test_an_unknown_provider_is_a_400_naming_the_field(client):
    response = client.post(URL, {"name": "X", "provider": "zapzap"}, format="json")
    assert response.status_code == 400
    assert "zapzap" in response.json()["provider"][0]


def test_creating_beyond_the_plan_is_refused_with_the_limit(client, tenant, bot):
    subscription_start(tenant=tenant, plan=PlanFactory(name="Básico", max_chatbots=1))
    response = client.post(URL, {"name": "Segundo", "provider": "stub"}, format="json")
    assert response.status_code == 400
    assert "Seu plano Básico permite 1 chatbot(s)" in str(response.json())


def test_a_duplicate_meta_number_is_a_400_on_phone_number_id(client, other_tenant):
    bots.chatbot_create(tenant=other_tenant, name="A", provider="meta", phone_number_id="999")
    response = client.post(
        URL, {"name": "B", "provider": "meta", "phone_number_id": "999"}, format="json"
    )
    assert response.status_code == 400
    assert "phone_number_id" in response.json()


def test_deleting_a_bot_removes_it(client, bot):
    assert client.delete(f"{URL}{bot.pk}/").status_code == 204
    assert not Chatbot.objects.filter(pk=bot.pk).exists()


def test_a_staff_member_of_two_tenants_picks_one_with_x_tenant(
    tenant, other_tenant, bot, other_bot
):
    user = MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN).user
    MembershipFactory(tenant=other_tenant, user=user, role=Membership.Role.ADMIN)
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(URL, HTTP_X_TENANT=other_tenant.slug)
    assert [b["name"] for b in response.json()["results"]] == ["Clínica"]


# --- Steps --------------------------------------------------------------------------------


def steps_url(bot) -> str:
    return f"{URL}{bot.pk}/steps/"


def test_it_creates_and_lists_a_bots_steps_in_order(client, bot):
    for code, order in (("fim", 2), ("inicio", 1)):
        config = {"text": "Olá", "next": "fim"} if code == "inicio" else {}
        path = MESSAGE if code == "inicio" else END
        response = client.post(
            steps_url(bot),
            {"code": code, "handler_path": path, "order": order, "config": config},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["chatbot"] == bot.pk
    listed = client.get(steps_url(bot)).json()
    assert [s["code"] for s in listed] == ["inicio", "fim"]
    assert Step.objects.get(code="inicio").tenant_id == bot.tenant_id


def test_a_step_without_order_goes_to_the_end(client, bot):
    bots.step_create(chatbot=bot, code="a", handler_path=END, order=7, config={})
    response = client.post(steps_url(bot), {"code": "b", "handler_path": END}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["order"] == 8


def test_a_bad_handler_path_is_a_400_naming_the_field_and_the_path(client, bot):
    response = client.post(
        steps_url(bot), {"code": "x", "handler_path": "os.system", "order": 1}, format="json"
    )
    assert response.status_code == 400
    assert "os.system" in response.json()["handler_path"][0]


def test_a_bad_config_is_a_400_on_config(client, bot):
    response = client.post(
        steps_url(bot),
        {"code": "x", "handler_path": MESSAGE, "order": 1, "config": {"texto": "oi"}},
        format="json",
    )
    assert response.status_code == 400
    assert "config" in response.json()


def test_a_duplicate_code_is_a_400_on_code(client, bot):
    bots.step_create(chatbot=bot, code="fim", handler_path=END, order=1, config={})
    response = client.post(steps_url(bot), {"code": "fim", "handler_path": END}, format="json")
    assert response.status_code == 400
    assert "fim" in response.json()["code"][0]


def test_another_tenants_bot_has_no_steps_to_list_or_add_to(client, other_bot):
    assert client.get(steps_url(other_bot)).status_code == 404
    response = client.post(
        steps_url(other_bot), {"code": "intruso", "handler_path": END}, format="json"
    )
    assert response.status_code == 404
    assert not Step.objects.filter(code="intruso").exists()


def test_another_tenants_step_is_not_found_even_under_my_bot(client, bot, other_bot):
    foreign = other_bot.steps.get()
    for url in (f"{steps_url(other_bot)}{foreign.pk}/", f"{steps_url(bot)}{foreign.pk}/"):
        assert client.get(url).status_code == 404
        assert client.patch(url, {"order": 9}, format="json").status_code == 404
        assert client.delete(url).status_code == 404
    foreign.refresh_from_db()
    assert foreign.order == 1


def test_a_step_cannot_be_pointed_at_another_bot_or_tenant(client, bot, other_bot, other_tenant):
    step = bots.step_create(chatbot=bot, code="fim", handler_path=END, order=1, config={})
    response = client.patch(
        f"{steps_url(bot)}{step.pk}/",
        {"chatbot": other_bot.pk, "tenant": other_tenant.pk, "order": 3},
        format="json",
    )
    assert response.status_code == 200, response.content
    step.refresh_from_db()
    assert (step.chatbot_id, step.tenant_id, step.order) == (bot.pk, bot.tenant_id, 3)


def test_it_updates_and_deletes_a_step(client, bot):
    step = bots.step_create(chatbot=bot, code="fim", handler_path=END, order=1, config={})
    url = f"{steps_url(bot)}{step.pk}/"
    response = client.patch(url, {"handler_path": MESSAGE}, format="json")
    assert response.status_code == 400  # MessageHandler needs a text
    assert "config" in response.json()
    response = client.patch(
        url, {"handler_path": MESSAGE, "config": {"text": "Tchau"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert client.delete(url).status_code == 204
    assert not Step.objects.filter(pk=step.pk).exists()


# --- Conversations and messages -----------------------------------------------------------


def test_conversations_is_not_taken_for_a_bot_id(client, bot, other_bot):
    mine = conversation(bot)
    conversation(other_bot)
    response = client.get(f"{URL}conversations/")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [mine.pk]


def test_conversations_filter_by_status_chatbot_and_cliente(client, tenant, bot, other_bot):
    second_bot = bots.chatbot_create(tenant=tenant, name="Delivery", provider="stub")
    maria = ClienteFactory(tenant=tenant)
    human = conversation(bot, cliente=maria, status=Conversation.Status.HUMAN)
    at_second = conversation(second_bot, cliente=maria)
    other = conversation(bot)
    foreign = conversation(other_bot)

    def ids(query):
        response = client.get(f"{URL}conversations/", query)
        assert response.status_code == 200, response.content
        return sorted(c["id"] for c in response.json()["results"])

    assert ids({"status": "human"}) == [human.pk]
    assert ids({"chatbot": second_bot.pk}) == [at_second.pk]
    assert ids({"cliente": maria.pk}) == sorted([human.pk, at_second.pk])
    assert ids({}) == sorted([human.pk, at_second.pk, other.pk])
    # Another tenant's ids answer like unknown ones: nothing, not an error.
    assert ids({"chatbot": other_bot.pk}) == []
    assert ids({"cliente": foreign.cliente_id}) == []


def test_another_tenants_conversation_and_its_messages_are_not_found(client, other_bot):
    foreign = conversation(other_bot)
    add_message(foreign, "segredo do outro")
    assert client.get(f"{URL}conversations/{foreign.pk}/").status_code == 404
    response = client.get(f"{URL}conversations/{foreign.pk}/messages/")
    assert response.status_code == 404
    assert "segredo do outro" not in response.content.decode()


def test_only_a_conversations_status_changes_through_the_api(client, bot):
    conv = conversation(bot, current_step="inicio", state={"carrinho": [1]})
    url = f"{URL}conversations/{conv.pk}/"

    response = client.patch(
        url, {"status": "human", "current_step": "fim", "state": {}}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "human"
    conv.refresh_from_db()
    assert (conv.status, conv.current_step, conv.state) == ("human", "inicio", {"carrinho": [1]})
    assert client.patch(url, {"status": "perdida"}, format="json").status_code == 400
    assert client.put(url, {"status": "closed"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert client.post(f"{URL}conversations/", {}, format="json").status_code == 405


def test_a_conversations_messages_come_in_order_a_page_at_a_time(client, bot):
    conv = conversation(bot)
    texts = [f"mensagem {i}" for i in range(5)]
    for i, text in enumerate(texts):
        add_message(conv, text, Message.Direction.IN if i % 2 == 0 else Message.Direction.OUT)
    add_message(conversation(bot), "de outra conversa")

    seen, url = [], f"{URL}conversations/{conv.pk}/messages/?page_size=2"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        seen += [m["text"] for m in response.json()["results"]]
        url = response.json()["next"]
    assert seen == texts
    first = client.get(f"{URL}conversations/{conv.pk}/messages/").json()["results"][0]
    assert first["direction"] == "in" and first["status"] == "received"


def test_the_schema_of_these_views_has_no_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    from chatbots.api import urls

    GENERATOR_STATS.reset()
    schema = SchemaGenerator(patterns=urls.urlpatterns).get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache
    assert "/{chatbot_id}/steps/" in schema["paths"]
    assert "/conversations/{conversation_id}/messages/" in schema["paths"]
