"""An experiment's goals as the results count them (a read receipt of the step's message,
an order within 24 hours), and the read-only admin with its results table, tenant-scoped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Membership
from chatbots.models import Message, Step
from experiments import services, stats
from experiments.models import Exposure
from pedidos.models import Pedido
from tests.factories import ChatbotFactory, ClienteFactory, ConversationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

A, B = "Texto A", "Texto B"


def _experiment(tenant, goal):
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    step = Step.objects.get(chatbot=bot, code="inicio")
    return services.experiment_start(
        tenant=tenant, step=step, texts=[A, B], goal=goal, strategy="thompson"
    )


def _shown(experiment, variant, tenant):
    cliente = ClienteFactory(tenant=tenant)
    conversation = ConversationFactory(
        tenant=tenant, chatbot=experiment.step.chatbot, cliente=cliente
    )
    Exposure.objects.create(
        experiment=experiment, variant=variant, cliente=cliente, conversation=conversation
    )
    return conversation


def _rows(experiment):
    return {r.variant.text: (r.shown, r.goals) for r in stats.results(experiment=experiment)}


def test_read_counts_the_read_receipt_of_the_message_sent_after_the_step(tenant):
    experiment = _experiment(tenant, "read")
    a, b = experiment.variants.all()
    for variant, read in [(a, True), (a, False), (b, False)]:
        conversation = _shown(experiment, variant, tenant)
        Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            direction="out",
            status="read" if read else "delivered",
            text=variant.text,
            read_at=timezone.now() if read else None,
        )
    assert _rows(experiment) == {A: (2, 1), B: (1, 0)}


def test_order_counts_an_order_within_24_hours_only(tenant):
    experiment = _experiment(tenant, "order")
    a, b = experiment.variants.all()
    soon = _shown(experiment, a, tenant)
    late = _shown(experiment, b, tenant)
    Pedido.objects.create(tenant=tenant, cliente=soon.cliente)
    Pedido.objects.filter(pk=Pedido.objects.create(tenant=tenant, cliente=late.cliente).pk).update(
        criado_em=timezone.now() + timedelta(hours=25)
    )
    assert _rows(experiment) == {A: (1, 1), B: (1, 0)}


def _admin(client, tenant):
    user = MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN).user
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)


def test_the_admin_shows_the_results_and_not_another_tenants(client, tenant, other_tenant):
    experiment = _experiment(tenant, "reply")
    _shown(experiment, experiment.variants.first(), tenant)
    mine = experiment.pk
    theirs = _experiment(other_tenant, "reply").pk
    _admin(client, tenant)
    page = client.get(f"/admin/experiments/stepexperiment/{mine}/change/").content.decode()
    assert "Resultados" in page and "Confiança da diferença" in page and A in page
    assert client.get(f"/admin/experiments/stepexperiment/{theirs}/change/").status_code in (
        302,
        404,
    )
    listing = client.get("/admin/experiments/stepexperiment/").content.decode()
    assert f"/admin/experiments/stepexperiment/{mine}/change/" in listing
    assert f"/admin/experiments/stepexperiment/{theirs}/change/" not in listing
