"""The processor asks once per batch whether a tenant has event webhooks (config.memo),
not once per message; outside a batch a new subscription counts at once."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest

from chatbots import processor
from integrations import services
from integrations.catalog import EventType
from integrations.models import WebhookDelivery, WebhookSubscription
from tests.factories import ChatbotFactory, InboundEventFactory


@pytest.mark.django_db(transaction=True)  # the events are recorded when the batch commits
def test_a_batch_of_messages_looks_up_the_subscriptions_once(tenant, subscription):
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    for n in range(6):
        InboundEventFactory(
            chatbot=bot,
            text="oi",
            sender=f"55119{n:08d}",
            occurred_at=datetime.fromtimestamp(1_700_000_000 + n, UTC),
        )
    with mock.patch.object(
        services, "_subscribed_events", wraps=services._subscribed_events
    ) as lookup:
        result = processor.drain(batch=50)
    assert result.turns == 6
    received = WebhookDelivery.objects.filter(
        subscription=subscription, event_type=EventType.MESSAGE_RECEIVED
    )
    assert received.count() == 6  # every message still has its event
    assert lookup.call_count == 1


def test_outside_a_batch_a_new_subscription_counts_at_once(tenant, receiver):
    assert EventType.MESSAGE_RECEIVED not in services.subscribed_events(tenant.pk)
    services.subscription_save(
        subscription=WebhookSubscription(
            tenant=tenant,
            description="CRM",
            url=f"{receiver.url}/eventos",
            secret="segredo-do-integrador-123",
            events=[EventType.MESSAGE_RECEIVED],
        )
    )
    assert EventType.MESSAGE_RECEIVED in services.subscribed_events(tenant.pk)
