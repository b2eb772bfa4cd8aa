"""HMAC-SHA256 signatures of webhook bodies, shared by the two webhooks billing speaks.

The payment webhook (billing.webhooks) checks them on what it receives; the plan alerts
(billing.alerts) put them on what they send to a tenant's URL. The scheme is Stripe's: the
signed message is the timestamp, a dot and the raw body, so a captured request cannot be
replayed with a fresh timestamp (https://docs.stripe.com/webhooks#verify-manually).
"""

from __future__ import annotations

import hashlib
import hmac


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 keyed with `secret` over "<timestamp>." + body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def sign_body(*, secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 keyed with `secret` over the raw body only."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
