"""chatbots.bots: the write path for bots and steps (admin, API and commands all use it)."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from billing.services import subscription_start
from chatbots import bots
from chatbots.models import Chatbot, Step
from tests.factories import PlanFactory

MESSAGE = "chatbots.handlers.generic.MessageHandler"
END = "chatbots.handlers.generic.EndHandler"


def errors_of(exc_info) -> dict[str, list[str]]:
    return exc_info.value.message_dict


@pytest.fixture
def bot(tenant):
    return bots.chatbot_create(
        tenant=tenant,
        name="Padaria",
        provider="stub",
        access_token="token-original",
        app_secret="segredo-original",
        provider_secrets={"api_key": "chave-original"},
    )


def test_it_creates_a_bot_with_its_secrets_encrypted_at_rest(bot):
    bot.refresh_from_db()
    assert bot.access_token == "token-original"
    assert json.loads(bot.provider_secrets) == {"api_key": "chave-original"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, provider_secrets FROM chatbots_chatbot WHERE id = %s", [bot.pk]
        )
        stored = " ".join(cursor.fetchone())
    assert "token-original" not in stored
    assert "chave-original" not in stored


def test_it_refuses_an_unknown_provider_naming_it_and_the_valid_ones(tenant):
    with pytest.raises(ValidationError) as exc_info:
        bots.chatbot_create(tenant=tenant, name="X", provider="zapzap")
    message = errors_of(exc_info)["provider"][0]
    assert "zapzap" in message
    assert "stub" in message and "meta" in message
    assert not Chatbot.objects.exists()


def test_an_update_with_empty_secrets_keeps_the_stored_ones(bot):
    bots.chatbot_update(
        chatbot=bot, name="Padaria Centro", access_token="", app_secret=None, provider_secrets={}
    )
    bot.refresh_from_db()
    assert bot.name == "Padaria Centro"
    assert bot.access_token == "token-original"
    assert bot.app_secret == "segredo-original"
    assert json.loads(bot.provider_secrets) == {"api_key": "chave-original"}


def test_an_update_replaces_a_secret_and_clear_secrets_erases_one(bot):
    bots.chatbot_update(chatbot=bot, access_token="token-novo", clear_secrets=["app_secret"])
    bot.refresh_from_db()
    assert bot.access_token == "token-novo"
    assert bot.app_secret == ""


def test_it_refuses_provider_secrets_that_are_not_a_json_object(tenant):
    with pytest.raises(ValidationError) as exc_info:
        bots.chatbot_create(tenant=tenant, name="X", provider="stub", provider_secrets="[1, 2]")
    assert "provider_secrets" in errors_of(exc_info)


def test_bots_without_a_meta_number_coexist_but_a_number_belongs_to_one_bot(tenant):
    bots.chatbot_create(tenant=tenant, name="A", provider="stub", phone_number_id="")
    bots.chatbot_create(tenant=tenant, name="B", provider="stub", phone_number_id="  ")
    bots.chatbot_create(tenant=tenant, name="C", provider="meta", phone_number_id="111")
    with pytest.raises(ValidationError) as exc_info:
        bots.chatbot_create(tenant=tenant, name="D", provider="meta", phone_number_id="111")
    assert "phone_number_id" in errors_of(exc_info)
    assert Chatbot.objects.filter(phone_number_id__isnull=True).count() == 2


def test_the_plan_limits_how_many_bots_a_tenant_has(tenant):
    subscription_start(tenant=tenant, plan=PlanFactory(name="Básico", max_chatbots=1))
    bots.chatbot_create(tenant=tenant, name="Primeiro", provider="stub")
    with pytest.raises(ValidationError) as exc_info:
        bots.chatbot_create(tenant=tenant, name="Segundo", provider="stub")
    assert "Seu plano Básico permite 1 chatbot(s)" in exc_info.value.messages[0]
    assert Chatbot.objects.filter(tenant=tenant).count() == 1


def test_a_tenant_without_subscription_is_not_limited(tenant):
    for name in ("A", "B", "C"):
        bots.chatbot_create(tenant=tenant, name=name, provider="stub")
    assert Chatbot.objects.filter(tenant=tenant).count() == 3


def test_a_step_belongs_to_its_bots_tenant(bot, tenant):
    step = bots.step_create(
        chatbot=bot, code="boas_vindas", handler_path=MESSAGE, order=1, config={"text": "Olá!"}
    )
    step.refresh_from_db()
    assert step.tenant_id == tenant.pk
    assert step.chatbot_id == bot.pk
    assert step.active is True


def test_it_refuses_a_step_whose_handler_is_not_registered_naming_the_path(bot):
    with pytest.raises(ValidationError) as exc_info:
        bots.step_create(
            chatbot=bot, code="x", handler_path="os.system", order=1, config={"text": "a"}
        )
    assert "os.system" in errors_of(exc_info)["handler_path"][0]
    assert not Step.objects.exists()


def test_it_refuses_a_step_whose_config_the_handler_rejects(bot):
    with pytest.raises(ValidationError) as exc_info:
        bots.step_create(chatbot=bot, code="x", handler_path=MESSAGE, order=1, config={})
    assert "text" in errors_of(exc_info)["config"][0]


def test_it_refuses_a_second_step_with_the_same_code_in_a_bot(bot, tenant):
    bots.step_create(chatbot=bot, code="fim", handler_path=END, order=1, config={})
    with pytest.raises(ValidationError) as exc_info:
        bots.step_create(chatbot=bot, code="fim", handler_path=END, order=2, config={})
    assert "fim" in errors_of(exc_info)["code"][0]
    # Another bot may use the same code.
    other = bots.chatbot_create(tenant=tenant, name="Outro", provider="stub")
    bots.step_create(chatbot=other, code="fim", handler_path=END, order=1, config={})


def test_a_step_update_validates_the_new_handler_against_the_kept_config(bot):
    step = bots.step_create(chatbot=bot, code="fim", handler_path=END, order=1, config={})
    with pytest.raises(ValidationError) as exc_info:
        bots.step_update(step=step, handler_path=MESSAGE)  # MessageHandler needs "text"
    assert "config" in errors_of(exc_info)
    step.refresh_from_db()
    assert step.handler_path == END

    bots.step_update(step=step, handler_path=MESSAGE, config={"text": "Tchau"}, order=5)
    step.refresh_from_db()
    assert (step.handler_path, step.config, step.order) == (MESSAGE, {"text": "Tchau"}, 5)


def test_it_deletes_a_step(bot):
    step = bots.step_create(chatbot=bot, code="fim", handler_path=END, order=1, config={})
    bots.step_delete(step=step)
    assert not Step.objects.filter(pk=step.pk).exists()
