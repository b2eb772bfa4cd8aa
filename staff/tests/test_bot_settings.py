"""The bot's settings as forms in the staff app: the WhatsApp connection per provider (Meta,
Evolution, Whaticket) with its connection test, and the bot's behaviour and assistant options.
Owners and admins change them; agents only look; secrets are never shown back."""

from __future__ import annotations

import json

import pytest

from billing.models import Membership
from chatbots.models import Chatbot
from tests.factories import ChatbotFactory, MembershipFactory
from tests.fakes.evolution import APIKEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    membership = MembershipFactory(role=Membership.Role.OWNER)
    client.force_login(membership.user)
    bot = ChatbotFactory(
        tenant=membership.tenant,
        name="Loja",
        provider="stub",
        phone_number_id=None,
        access_token="",
        app_secret="",
        verify_token="",
    )
    return {"client": client, "bot": bot, "membership": membership}


def _url(bot, tail: str = "conexao/") -> str:
    return f"/atendimento/robos/{bot.pk}/{tail}"


def test_an_owner_connects_meta_and_gets_the_webhook_to_paste(owner):
    client, bot = owner["client"], owner["bot"]
    page = client.get(_url(bot), {"provedor": "meta"}).content.decode()
    assert 'name="phone_number_id"' in page and "provider_config" not in page
    response = client.post(
        _url(bot),
        {
            "provider": "meta",
            "phone_number_id": "1099",
            "waba_id": "2099",
            "access_token": "EAAG-segredo",
            "app_secret": "app-segredo",
        },
    )
    assert response.status_code == 302
    bot.refresh_from_db()
    assert (bot.provider, bot.phone_number_id, bot.access_token) == ("meta", "1099", "EAAG-segredo")
    assert bot.verify_token
    page = client.get(_url(bot)).content.decode()
    assert "/api/chatbots/webhook/" in page and bot.verify_token in page
    assert "EAAG-segredo" not in page and "app-segredo" not in page
    # Saving again with the secret boxes empty keeps the secrets.
    client.post(_url(bot), {"provider": "meta", "phone_number_id": "1099", "waba_id": "2099"})
    bot.refresh_from_db()
    assert bot.access_token == "EAAG-segredo"


def test_a_missing_meta_secret_is_refused_at_its_field(owner):
    response = owner["client"].post(
        _url(owner["bot"]), {"provider": "meta", "phone_number_id": "1099"}
    )
    assert response.status_code == 200
    assert "access_token" in response.context["form"].errors
    owner["bot"].refresh_from_db()
    assert owner["bot"].provider == "stub"


def test_an_evolution_server_on_a_private_address_is_refused_at_the_url(owner):
    response = owner["client"].post(
        _url(owner["bot"]),
        {
            "provider": "evolution",
            "evo_base_url": "http://10.0.0.5:8080",
            "evo_instance": "loja",
            "evo_apikey": "k",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["evo_base_url"]
    owner["bot"].refresh_from_db()
    assert owner["bot"].provider == "stub"


def test_saving_evolution_creates_the_instance_and_points_its_webhook_here(owner, fake_evolution):
    client, bot = owner["client"], owner["bot"]
    response = client.post(
        _url(bot),
        {
            "provider": "evolution",
            "evo_base_url": fake_evolution.url,
            "evo_instance": "loja",
            "evo_apikey": APIKEY,
        },
    )
    assert response.status_code == 302
    bot.refresh_from_db()
    secrets = json.loads(bot.provider_secrets)
    assert secrets["apikey"] == APIKEY and secrets["webhook_secret"]
    webhook = fake_evolution.instances["loja"]["webhook"]
    assert webhook["url"].endswith(f"/api/chatbots/webhook/evolution/{bot.pk}/")
    assert webhook["headers"] == {"X-Webhook-Secret": secrets["webhook_secret"]}
    page = client.get(_url(bot)).content.decode()
    assert 'id="qr"' in page and APIKEY not in page


def test_the_connection_test_says_how_it_went(owner, fake_evolution):
    from tests.fakes.evolution import evolution_bot

    bot = evolution_bot(owner["membership"].tenant, fake_evolution, state="open")
    response = owner["client"].post(_url(bot, "conexao/testar/"), follow=True)
    assert "Conectado" in response.content.decode()


def test_an_agent_sees_the_connection_but_cannot_change_it(client, owner):
    agent = MembershipFactory(tenant=owner["membership"].tenant, role=Membership.Role.AGENT)
    client.force_login(agent.user)
    bot = owner["bot"]
    page = client.get(_url(bot))
    assert page.status_code == 200 and page.context["form"] is None
    assert client.post(_url(bot), {"provider": "meta", "phone_number_id": "1"}).status_code == 403
    assert client.post(_url(bot, "conexao/testar/")).status_code == 403
    assert client.post(_url(bot, "comportamento/"), {"ai_tone": "formal"}).status_code == 403
    assert client.post("/atendimento/comecar/fluxo/", {"flow": "menu"}).status_code == 403
    assert not bot.steps.exists()
    # Agents do not configure: no checklist reminder on their conversations page.
    assert "Primeiros passos" not in client.get("/atendimento/conversas/").content.decode()
    assert Chatbot.objects.get(pk=bot.pk).provider == "stub"


def test_another_tenants_bot_settings_are_not_found(owner):
    other = ChatbotFactory()
    client = owner["client"]
    assert client.get(_url(other)).status_code == 404
    assert client.post(_url(other), {"provider": "stub"}).status_code == 404
    assert client.get(_url(other, "comportamento/")).status_code == 404
    assert client.post(_url(other, "conexao/testar/")).status_code == 404
    assert client.get(_url(other, "conexao/estado/")).status_code == 404
    assert client.get(_url(other, "simulador/")).status_code == 404
    assert client.post(_url(other, "simulador/"), {"text": "oi"}).status_code == 404


def test_an_owner_sets_the_tone_and_the_assistant_with_a_form(owner):
    client, bot = owner["client"], owner["bot"]
    bot.options = {"ai_flows": {"pedido": "inicio"}}
    bot.save()
    page = client.get(_url(bot, "comportamento/")).content.decode()
    assert "Tom do assistente" in page and "options" not in page.split("<main>")[1]
    response = client.post(
        _url(bot, "comportamento/"),
        {
            "apology_text": "Ops, deu errado.",
            "restart_keywords": "Menu, Voltar",
            "debounce_ms": "1500",
            "ai_fallback": "True",
            "ai_tone": "formal",
            "ai_empathy": "False",
            "ai_waiting_text": "Só um instante…",
            "ai_handoff_text": "",
            "ai_handoff_queue": "",
        },
    )
    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.options == {
        "ai_flows": {"pedido": "inicio"},
        "apology_text": "Ops, deu errado.",
        "restart_keywords": ["menu", "voltar"],
        "debounce_ms": 1500,
        "ai_fallback": True,
        "ai_tone": "formal",
        "ai_empathy": False,
        "ai_waiting_text": "Só um instante…",
    }


def test_a_bad_wait_is_refused_at_its_field(owner):
    response = owner["client"].post(
        _url(owner["bot"], "comportamento/"),
        {"debounce_ms": "-5", "ai_fallback": "False", "ai_tone": "informal", "ai_empathy": "True"},
    )
    assert response.status_code == 200
    assert "debounce_ms" in response.context["form"].errors


def test_an_owner_whose_bot_is_not_live_is_pointed_at_the_checklist(owner):
    page = owner["client"].get("/atendimento/conversas/").content.decode()
    assert "Primeiros passos: faltam 5 itens" in page


def test_the_bots_page_shows_a_disconnected_number_and_metas_quality(owner):
    from django.utils import timezone

    from chatbots.models import InboundEvent
    from chatbots.wire import CONNECTION_FIELD

    bot = owner["bot"]
    bot.provider = "evolution"
    bot.save()
    InboundEvent.objects.create(
        tenant=bot.tenant,
        provider="evolution",
        chatbot=bot,
        external_id="evo-conn:1:close:x",
        kind=InboundEvent.Kind.ACCOUNT,
        occurred_at=timezone.now(),
        payload={"field": CONNECTION_FIELD, "value": {"state": "close"}},
        state=InboundEvent.State.DONE,
    )
    ChatbotFactory(tenant=bot.tenant, name="Oficial", provider="meta", quality_rating="YELLOW")
    page = owner["client"].get("/atendimento/robos/").content.decode()
    assert "desconectado desde" in page
    assert "qualidade: média (amarela)" in page and "YELLOW" not in page


def test_a_new_tenant_creates_its_first_bot_from_the_checklist(client):
    membership = MembershipFactory(role=Membership.Role.OWNER)
    client.force_login(membership.user)
    page = client.get("/atendimento/comecar/").content.decode()
    assert 'id="bot-create"' in page
    response = client.post("/atendimento/comecar/robo/", {"name": "Pizzaria do Zé"}, follow=True)
    bot = Chatbot.objects.get(tenant=membership.tenant)
    assert (bot.name, bot.provider) == ("Pizzaria do Zé", "stub")
    assert 'id="bot-create"' not in response.content.decode()


def test_an_owner_connects_whaticket_tests_it_and_gets_the_webhook_url(owner, fake_whaticket):
    from tests.fakes.whaticket import SHARED_SECRET, TOKEN

    client, bot = owner["client"], owner["bot"]
    response = client.post(
        _url(bot),
        {
            "provider": "whaticket",
            "wt_base_url": fake_whaticket.url,
            "wt_whatsapp_id": "3",
            "wt_token": TOKEN,
            "wt_shared_secret": SHARED_SECRET,
        },
    )
    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.provider == "whaticket"
    page = client.get(_url(bot)).content.decode()
    assert f"/api/chatbots/webhook/whaticket/{bot.pk}/" in page
    assert TOKEN not in page and SHARED_SECRET not in page
    tested = client.post(_url(bot, "conexao/testar/"), follow=True).content.decode()
    assert "o Whaticket aceitou o token" in tested


def test_the_meta_connection_test_names_the_number_and_its_quality(owner, fake_graph):
    bot = owner["bot"]
    bot.provider, bot.phone_number_id, bot.access_token = "meta", "1099", "EAAG-segredo"
    bot.messaging_limit_tier = "TIER_1K"
    bot.save()
    page = owner["client"].post(_url(bot, "conexao/testar/"), follow=True).content.decode()
    assert "Conectado: +55 11 90000-0000 (Loja Teste)" in page
    assert "qualidade alta (verde)" in page and "GREEN" not in page
    # The number's messaging limit, by name.
    assert "até 1.000 conversas iniciadas por dia" in page and "TIER_1K" not in page


def test_a_number_that_stopped_answering_shows_on_the_bot(owner):
    from datetime import timedelta

    from django.utils import timezone

    from chatbots.models import Message
    from tests.factories import ConversationFactory

    bot = owner["bot"]
    bot.provider = "evolution"
    bot.save()
    conversation = ConversationFactory(chatbot=bot, tenant=bot.tenant)
    stuck = Message.objects.create(
        tenant=bot.tenant,
        conversation=conversation,
        direction=Message.Direction.OUT,
        text="Olá",
        status=Message.Status.QUEUED,
    )
    Message.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(minutes=30))
    bots_page = owner["client"].get("/atendimento/robos/").content.decode()
    assert "parou de responder" in bots_page
    connection = owner["client"].get(_url(bot)).content.decode()
    assert "O robô parou de responder: há respostas esperando para sair há 30 minutos" in connection


def test_the_qr_code_is_read_again_until_the_phone_connects(owner, fake_evolution):
    from tests.fakes.evolution import evolution_bot, sample_modules

    bot = evolution_bot(owner["membership"].tenant, fake_evolution, state="close")
    status = _url(bot, "conexao/estado/")
    first = owner["client"].get(status)
    # WhatsApp gives a new code every ~40 s: the next poll shows the new one.
    fake_evolution.qr_modules = [list(reversed(row)) for row in sample_modules()]
    second = owner["client"].get(status)
    assert first.context["qr"] and second.context["qr"]
    assert first.context["qr"] != second.context["qr"]
    assert 'hx-trigger="every 3s"' in second.content.decode()
    fake_evolution.instances["loja"]["state"] = "open"
    connected = owner["client"].get(status).content.decode()
    assert "conectado" in connected and "hx-get" not in connected and 'id="qr"' not in connected
