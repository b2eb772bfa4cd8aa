"""EncryptedTextField: a secret stored encrypted, read back as plain text in Python only.

The admin and API never show these back (forms use a write-only widget; serializers mark
them write_only). Empty strings are stored empty, so "not configured" stays queryable.
Models of every layer hold secrets (billing, chatbots, agenda), so the field and its keys
(config.crypto) live in config, which imports none of them.
"""

from __future__ import annotations

import json

from django.db import models

from config import crypto
from config.logging import register_secret


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with FIELD_ENCRYPTION_KEYS"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        plain = crypto.decrypt(value)
        _register(plain)  # masked in every log line from now on (config.logging)
        return plain

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        _register(value)
        return crypto.encrypt(value)

    def get_internal_type(self) -> str:
        return "TextField"


def _register(plain: str) -> None:
    register_secret(plain)
    # provider_secrets holds several secrets as a JSON object: each one on its own.
    if plain.startswith("{"):
        try:
            values = json.loads(plain).values()
        except (ValueError, AttributeError):
            return
        for value in values:
            if isinstance(value, str):
                register_secret(value)


def encrypted_fields(model) -> list[EncryptedTextField]:
    return [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
