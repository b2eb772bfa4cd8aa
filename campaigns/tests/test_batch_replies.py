"""In a processor batch the campaign-reply hook reads the flags of all the batch's
conversations in one cache round trip (config.memo), not one per message; a flagged
conversation still has its campaign looked up."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import replies
from chatbots import processor
from chatbots.models import Conversation
from tests.factories import ChatbotFactory, ClienteFactory, InboundEventFactory

pytestmark = pytest.mark.django_db


class CountingCache:
    """The real cache, counting its round trips."""

    def __init__(self) -> None:
        self.trips = 0

    def __getattr__(self, name):
        self.trips += name in ("get", "get_many")
        return getattr(cache, name)


def _batch(tenant, bot, monkeypatch, size: int, offset: int) -> tuple[int, int]:
    phones = [f"55119{offset + n:08d}" for n in range(size)]
    conversations = []
    for phone in phones:
        cliente = ClienteFactory(tenant=tenant, telefone=phone, wa_id=phone)
        conversations.append(
            Conversation.objects.create(tenant=tenant, chatbot=bot, cliente=cliente)
        )
        InboundEventFactory(chatbot=bot, text="oi", sender=phone)
    cache.set(replies._key(conversations[0].pk), 1)  # a campaign went to the first one
    counting = CountingCache()
    monkeypatch.setattr(replies, "cache", counting)
    with CaptureQueriesContext(connection) as queries:
        assert processor.drain(batch=50).turns == size
    monkeypatch.undo()
    lookups = [q for q in queries.captured_queries if '"campaigns_campaignrecipient"' in q["sql"]]
    return counting.trips, len(lookups)


def test_a_batch_reads_the_campaign_reply_flags_once_whatever_its_size(tenant, monkeypatch):
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")

    small = _batch(tenant, bot, monkeypatch, 2, 0)
    large = _batch(tenant, bot, monkeypatch, 6, 100)

    assert small == large == (1, 1)  # one cache read; the flagged conversation looked up
