"""A tenant's own receiver on 127.0.0.1 (tests/fakes/server.py) and a subscription to it."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.utils import timezone

from billing.models import Membership
from integrations import services
from integrations.catalog import EventType
from integrations.models import WebhookSubscription
from tests.factories import MembershipFactory
from tests.fakes.server import FakeServer

SECRET = "segredo-do-integrador-123"


class Receiver(FakeServer):
    """Answers 200 "ok" unless scripted (respond_next)."""

    def answer(self, record):
        return 200, "ok"

    def events(self, secret: str = SECRET, *, fresh: bool = True) -> list[dict]:
        """Every body received, after checking its signature as the README tells
        integrators to: HMAC-SHA256 of "<timestamp>." + raw body, with a fresh timestamp."""
        out = []
        for request in self.requests:
            timestamp = request.headers["X-Webhook-Timestamp"]
            expected = hmac.new(
                secret.encode(), timestamp.encode() + b"." + request.raw, hashlib.sha256
            ).hexdigest()
            assert hmac.compare_digest(request.headers["X-Webhook-Signature"], f"sha256={expected}")
            if fresh:
                assert abs(int(timestamp) - timezone.now().timestamp()) < 60
            body = json.loads(request.raw)
            assert request.headers["X-Webhook-Event"] == body["type"]
            assert request.headers["X-Webhook-Delivery"] == body["id"]
            out.append(body)
        return out


@pytest.fixture
def receiver(settings):
    # The operator trusts this one address (EGRESS_ALLOWED_HOSTS, over http): every other
    # private address stays refused, which the egress tests rely on.
    settings.EGRESS_ALLOWED_HOSTS = ["127.0.0.1"]
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def subscription(tenant, receiver) -> WebhookSubscription:
    return services.subscription_save(
        subscription=WebhookSubscription(
            tenant=tenant,
            description="ERP",
            url=f"{receiver.url}/eventos",
            secret=SECRET,
            events=list(EventType.values),
        )
    )


@pytest.fixture
def manager(tenant):
    return MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN).user


@pytest.fixture
def committed(django_capture_on_commit_callbacks, celery_eager):
    """Run a block as a committed transaction would: its after-commit work runs (the event
    is recorded and its delivery task runs inline)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
