"""EncryptedTextField: a secret stored encrypted, read back as plain text in Python only.

The admin and API never show these back (forms use a write-only widget; serializers mark
them write_only). Empty strings are stored empty, so "not configured" stays queryable.
"""

from __future__ import annotations

from django.db import models

from compliance import crypto


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with FIELD_ENCRYPTION_KEYS"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)

    def get_internal_type(self) -> str:
        return "TextField"


def encrypted_fields(model) -> list[EncryptedTextField]:
    return [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
