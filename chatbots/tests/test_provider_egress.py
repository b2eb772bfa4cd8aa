"""Server-side request forgery through a bot's provider server URL, closed: a staff member
who sets `provider_config.base_url` to an internal address (the cloud's metadata service, a
port on localhost) gets it refused when saved, and a URL forced into the database is
refused when called, before any connection. The connection test never repeats what the
remote server answered."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from chatbots import bots
from chatbots.models import Chatbot
from chatbots.providers.base import ProviderError
from chatbots.providers.evolution import EvolutionProvider
from chatbots.providers.whaticket import WhaticketProvider
from chatbots.tests.test_admin import page_data
from chatbots.wire import Text
from tests.factories import ChatbotFactory
from tests.fakes import evolution as evo
from tests.fakes import whaticket as wt

URL = "/api/chatbots/"
METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/?x="


@pytest.fixture(autouse=True)
def policy_on(settings):
    settings.EGRESS_ALLOW_PRIVATE = False
    settings.EGRESS_ALLOWED_HOSTS = []


def internal_url(trap) -> str:
    # "?x=" turns the path the provider appends into a query string: the whole request
    # would land on the internal service's root.
    return f"{trap.url}/x?x="


def evolution_fields(base_url: str) -> dict:
    return {
        "name": "Loja",
        "provider": "evolution",
        "provider_config": {"base_url": base_url, "instance": "loja"},
        "provider_secrets": {"apikey": evo.APIKEY},
    }


def forced_bot(tenant, provider: str, base_url: str) -> Chatbot:
    """A bot whose URL skipped every check (written straight to the database)."""
    secrets = {"apikey": evo.APIKEY} if provider == "evolution" else {"token": wt.TOKEN}
    return ChatbotFactory(
        tenant=tenant,
        provider=provider,
        phone_number_id=None,
        provider_config={"base_url": base_url, "instance": "loja"},
        provider_secrets=json.dumps(secrets),
    )


# --- Refused when saved ----------------------------------------------------------------------


def test_the_api_refuses_an_evolution_bot_pointing_at_localhost(key_client, trap):
    response = key_client.post(URL, evolution_fields(internal_url(trap)), format="json")

    assert response.status_code == 400
    (message,) = response.json()["provider_config"]
    assert "provider_config.base_url" in message and "interno" in message
    assert not Chatbot.objects.exists()
    assert trap.connections() == 0


@pytest.mark.parametrize(
    "base_url",
    [
        METADATA,
        "https://169.254.169.254/latest/meta-data/?x=",
        "https://[64:ff9b::7f00:1]/?x=",  # NAT64 form of 127.0.0.1
        "https://[64:ff9b::a00:8]/?x=",  # NAT64 form of 10.0.0.8
        "https://[2002:7f00:1::]/?x=",  # 6to4 form of 127.0.0.1
        "https://[2002:a00:8::]/?x=",  # 6to4 form of 10.0.0.8
        "https://[::ffff:10.0.0.8]/?x=",
    ],
)
def test_the_metadata_service_and_disguised_internal_addresses_are_refused(
    key_client, tenant, base_url
):
    response = key_client.post(URL, evolution_fields(base_url), format="json")
    assert response.status_code == 400
    assert "provider_config" in response.json()

    bot = bots.chatbot_create(tenant=tenant, name="Ok", provider="stub")
    response = key_client.patch(
        f"{URL}{bot.pk}/", {"provider_config": {"base_url": base_url}}, format="json"
    )
    assert response.status_code == 400


def test_a_name_that_resolves_to_a_private_address_is_refused(tenant, fake_dns, trap):
    fake_dns.add("evolution.minhaempresa.com.br", "10.0.0.8")
    with pytest.raises(ValidationError) as caught:
        bots.chatbot_create(
            tenant=tenant, **evolution_fields("https://evolution.minhaempresa.com.br")
        )
    assert "evolution.minhaempresa.com.br" in caught.value.message_dict["provider_config"][0]

    fake_dns.add("evolution.minhaempresa.com.br", "8.8.8.8")  # its real, public address
    bots.chatbot_create(tenant=tenant, **evolution_fields("https://evolution.minhaempresa.com.br"))


def test_plain_http_is_refused_for_a_provider_server(tenant, fake_dns):
    fake_dns.add("whaticket.minhaempresa.com.br", "8.8.8.8")
    with pytest.raises(ValidationError) as caught:
        bots.chatbot_create(
            tenant=tenant,
            name="Loja",
            provider="whaticket",
            provider_config={"base_url": "http://whaticket.minhaempresa.com.br"},
        )
    assert "https://" in caught.value.message_dict["provider_config"][0]


def test_the_admin_shows_the_refusal_on_the_field(client, owner, tenant, trap):
    bot = bots.chatbot_create(tenant=tenant, name="Loja", provider="stub")
    client.force_login(owner)
    page = client.get(f"/admin/chatbots/chatbot/{bot.pk}/change/")
    data = page_data(
        page,
        provider="evolution",
        provider_config=json.dumps({"base_url": internal_url(trap), "instance": "loja"}),
    )

    response = client.post(f"/admin/chatbots/chatbot/{bot.pk}/change/", data)

    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors["provider_config"]
    assert "interno" in errors[0]
    bot.refresh_from_db()
    assert bot.provider == "stub"
    assert trap.connections() == 0


# --- Refused when called, if forced into the database ----------------------------------------


def test_a_forced_internal_url_is_never_connected_to(key_client, tenant, trap):
    bot = forced_bot(tenant, "evolution", internal_url(trap))

    response = key_client.post(f"{URL}{bot.pk}/test-connection/")
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert "interno" in response.json()["detail"]

    with pytest.raises(ProviderError) as caught:
        EvolutionProvider().send(bot, "5511987654321", Text(body="oi"))
    assert caught.value.code == "egress_refused" and caught.value.retryable is False

    whaticket = forced_bot(tenant, "whaticket", internal_url(trap))
    assert key_client.post(f"{URL}{whaticket.pk}/test-connection/").json()["ok"] is False
    with pytest.raises(ProviderError):
        WhaticketProvider().send(whaticket, "5511987654321", Text(body="oi"))

    assert trap.connections() == 0


def test_a_forced_name_that_rebinds_inward_is_refused_when_called(tenant, fake_dns, trap):
    fake_dns.add("evolution.minhaempresa.com.br", "8.8.8.8", then="127.0.0.1")
    bot = bots.chatbot_create(
        tenant=tenant, **evolution_fields(f"https://evolution.minhaempresa.com.br:{trap.port}")
    )

    with pytest.raises(ProviderError) as caught:
        EvolutionProvider().send(bot, "5511987654321", Text(body="oi"))

    assert caught.value.code == "egress_refused"
    assert trap.connections() == 0


def test_a_redirect_to_an_internal_address_is_not_followed(tenant, httpserver, trap, settings):
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1/32"]  # the bot's server, trusted here
    httpserver.expect_request("/message/sendText/loja").respond_with_data(
        "", status=307, headers={"Location": internal_url(trap)}
    )
    bot = forced_bot(tenant, "evolution", f"http://127.0.0.1:{httpserver.port}")

    with pytest.raises(ProviderError) as caught:
        EvolutionProvider().send(bot, "5511987654321", Text(body="oi"))

    assert caught.value.code == "http_307"
    assert trap.connections() == 0


# --- The connection test never repeats the remote answer ------------------------------------


SECRET_PAGE = "ami-id\ninstance-id\nSEGREDO-DA-REDE-INTERNA"


def test_the_connection_test_detail_carries_no_remote_body(
    key_client, tenant, fake_evolution, caplog
):
    bot = evo.evolution_bot(tenant, fake_evolution)
    fake_evolution.respond_next(status=500, body=SECRET_PAGE)

    response = key_client.post(f"{URL}{bot.pk}/test-connection/")

    detail = response.json()["detail"]
    assert response.json()["ok"] is False
    assert "SEGREDO" not in detail and "500" not in detail
    assert "log do servidor" in detail
    # The operator still sees it, in the server's log.
    assert any("SEGREDO-DA-REDE-INTERNA" in getattr(r, "detail", "") for r in caplog.records)


def test_the_connection_test_does_not_repeat_an_unknown_instance_state(
    key_client, tenant, fake_evolution
):
    bot = evo.evolution_bot(tenant, fake_evolution)
    fake_evolution.respond_next(status=200, body={"instance": {"state": SECRET_PAGE}})

    detail = key_client.post(f"{URL}{bot.pk}/test-connection/").json()["detail"]

    assert "SEGREDO" not in detail and "desconhecido" in detail


@pytest.mark.parametrize("status", [302, 404, 418, 500])
def test_whaticket_s_check_reveals_no_status_code(key_client, tenant, fake_whaticket, status):
    bot = wt.whaticket_bot(tenant, fake_whaticket)
    fake_whaticket.respond_next(status=status, body=SECRET_PAGE)

    detail = key_client.post(f"{URL}{bot.pk}/test-connection/").json()["detail"]

    assert str(status) not in detail and "SEGREDO" not in detail
    assert "confira a URL" in detail
