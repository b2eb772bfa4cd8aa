"""A campaign batch costs the same queries for 10 customers as for 60: its outbox rows,
conversations and consent checks are read and written per batch (outbox.send_to_customers),
and the sender resolves the batch's template once per bot, not once per message."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import services
from campaigns.models import CampaignRecipient
from campaigns.tests.conftest import customers
from chatbots.models import Message
from chatbots.outbox import wake
from chatbots.outbox.sender import Sender
from compliance import consent
from compliance.models import ConsentEvent
from tests.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db


def _statements(queries) -> int:
    return sum(1 for q in queries.captured_queries if "SAVEPOINT" not in q["sql"])


def _started(tenant, bot, promo, n: int):
    bot.messages_per_second = 1000
    bot.save(update_fields=["messages_per_second"])
    customers(tenant, n)
    campaign = services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Maio",
        variants=[{"template": promo, "params": [{"field": "primeiro_nome"}]}],
    )
    with mock.patch.object(services, "_enqueue", lambda pk: None):
        services.campaign_start(campaign=campaign)
    return campaign


def _batch_and_send(campaign, on_commit) -> tuple[int, int]:
    """(statements of one campaign batch, statements of the sender's round that sends it)."""
    with mock.patch.object(wake, "notify", return_value=wake.Taken(True, True)):
        with CaptureQueriesContext(connection) as batch, on_commit(execute=True):
            services.campaign_run(campaign_id=campaign.pk, batch=100, max_batches=1)
        with CaptureQueriesContext(connection) as sender:
            Sender(batch=500, threads=1).run_once()
    return _statements(batch), _statements(sender)


def test_a_batch_costs_the_same_queries_for_10_or_60_customers(
    tenant, other_tenant, bot, promo, fake_graph, django_capture_on_commit_callbacks
):
    from tests.factories import ChatbotFactory

    small = _started(tenant, bot, promo, 10)
    small_batch, small_sender = _batch_and_send(small, django_capture_on_commit_callbacks)
    assert len(fake_graph.sends) == 10

    other_bot = ChatbotFactory(tenant=other_tenant, messaging_limit_tier="TIER_1K")
    other_promo = MessageTemplateFactory(chatbot=other_bot, name="promo_maio", param_count=1)
    large = _started(other_tenant, other_bot, other_promo, 60)
    large_batch, large_sender = _batch_and_send(large, django_capture_on_commit_callbacks)

    assert len(fake_graph.sends) == 70
    assert CampaignRecipient.objects.filter(status="sent").count() == 70
    # Before the batch path a customer cost ten statements in the batch and one in the sender.
    assert large_batch == small_batch <= 30
    assert large_sender == small_sender <= 6


def test_a_batch_refuses_the_opted_out_and_erased_and_speaks_each_customers_language(
    tenant, bot, promo, fake_graph, django_capture_on_commit_callbacks, celery_eager
):
    MessageTemplateFactory(chatbot=bot, name="promo_maio", language="es", param_count=1)
    ana, bia, caio, duda = customers(tenant, 4)
    consent.consent_opt_out(cliente=bia, source=ConsentEvent.Source.KEYWORD, actor="test")
    consent.marker_add(tenant_id=tenant.pk, telefone=caio.telefone)  # erased before (LGPD)
    duda.idioma = "es"
    duda.save(update_fields=["idioma"])
    campaign = services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Maio",
        variants=[{"template": promo, "params": [{"field": "primeiro_nome"}]}],
    )
    with mock.patch.object(services, "_enqueue", lambda pk: None):
        services.campaign_start(campaign=campaign)  # Bia, who opted out, is left out here
    consent.consent_opt_out(cliente=ana, source=ConsentEvent.Source.KEYWORD, actor="test")

    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_run(campaign_id=campaign.pk)

    got = {
        r.cliente.nome: (r.status, r.reason, r.message.payload.get("language"))
        for r in CampaignRecipient.objects.select_related("cliente", "message")
    }
    assert got == {
        "Cliente 0": ("skipped", "opted_out", "pt_BR"),  # opted out after the start
        "Cliente 2": ("skipped", "opted_out", "pt_BR"),  # erased: the marker holds
        "Cliente 3": ("sent", "", "es"),
    }
    sent = [r.json for r in fake_graph.sends]
    assert [(s["to"], s["template"]["language"]["code"]) for s in sent] == [
        (f"+{duda.telefone}", "es")
    ]
    assert Message.objects.filter(status="failed", error_code="opted_out").count() == 2
