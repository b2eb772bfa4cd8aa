"""Field encryption for secrets at rest: MultiFernet keyed by FIELD_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts, so keys rotate by putting a new one first,
running `manage.py rotate_encryption_keys`, then dropping the old one. A value that no key
opens raises DecryptionError: it never comes back as ciphertext pretending to be a token.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "enc1:"  # marks our ciphertext, so a plain value is never mistaken for one


class DecryptionError(Exception):
    pass


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe "
            "base64 bytes); generate one with: python -c 'from cryptography.fernet import "
            "Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plain: str) -> str:
    return PREFIX + fernet().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    return _decrypt(tuple(settings.FIELD_ENCRYPTION_KEYS), stored)


# A bot's three secrets are read with every row that joins it (the sender loads each
# conversation's bot), and a Fernet decrypt (HMAC check + AES) costs more than building
# the model instance: the same ciphertext always opens to the same text under the same
# keys, so the answers are kept, keyed by the keys too (a key dropped from
# FIELD_ENCRYPTION_KEYS no longer opens what it alone could).
@lru_cache(maxsize=2048)
def _decrypt(keys: tuple[str, ...], stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise DecryptionError("stored value is not encrypted by this application")
    try:
        return _fernet(keys).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "no key in FIELD_ENCRYPTION_KEYS decrypts this value (was a key removed?)"
        ) from None


def rotate(stored: str) -> str:
    """Re-encrypt with the first key (no-op in meaning, new ciphertext)."""
    if not stored.startswith(PREFIX):
        raise DecryptionError("stored value is not encrypted by this application")
    return PREFIX + fernet().rotate(stored[len(PREFIX) :].encode()).decode()
