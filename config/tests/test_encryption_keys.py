"""FIELD_ENCRYPTION_KEYS rotation with `manage.py rotate_encryption_keys`."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from chatbots.models import Chatbot
from config.crypto import DecryptionError

TOKEN = "EAAGm0PX4ZCpsBA-token-de-acesso"


def stored(chatbot: Chatbot, column: str) -> str:
    """The value in the table, as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM chatbots_chatbot WHERE id = %s", [chatbot.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def old_key(settings):
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


@pytest.fixture
def chatbot(tenant, old_key):
    return Chatbot.objects.create(
        tenant=tenant, name="Atendimento", access_token=TOKEN, app_secret="segredo-do-app"
    )


def test_secrets_are_stored_encrypted(chatbot):
    assert TOKEN not in stored(chatbot, "access_token")
    assert Chatbot.objects.get(pk=chatbot.pk).access_token == TOKEN


def test_rotation_lets_the_old_key_go(settings, chatbot, old_key):
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    before = stored(chatbot, "access_token")
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "chatbots.Chatbot.access_token: 1 re-encrypted" in out.getvalue()
    after = stored(chatbot, "access_token")
    assert after != before
    assert TOKEN not in after

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    reloaded = Chatbot.objects.get(pk=chatbot.pk)
    assert reloaded.access_token == TOKEN
    assert reloaded.app_secret == "segredo-do-app"


def test_a_value_no_key_opens_raises_instead_of_returning_ciphertext(settings, chatbot):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError):
        Chatbot.objects.get(pk=chatbot.pk)


def test_empty_secrets_stay_empty_and_are_not_rotated(settings, tenant, old_key):
    bot = Chatbot.objects.create(tenant=tenant, name="Sem token")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    call_command("rotate_encryption_keys", stdout=StringIO())
    assert stored(bot, "access_token") == ""
    assert Chatbot.objects.get(pk=bot.pk).access_token == ""
