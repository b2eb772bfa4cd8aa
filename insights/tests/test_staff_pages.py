"""The staff app's customer insights page (owners and admins) and the conversation's
recommendations panel (every member who sees the conversation)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from billing.models import Membership
from insights import segments
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests.factories import ConversationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owner_sees_who_to_win_back_and_an_agent_is_refused(tenant, cliente):
    now = timezone.now()
    Pedido.objects.bulk_create(
        [
            Pedido(
                tenant=tenant,
                cliente=cliente,
                status=StatusPedido.ENTREGUE,
                total=Decimal("80"),
                confirmado_em=now - timedelta(days=d),
            )
            for d in (100, 93, 86, 79, 72)  # weekly, then four weeks gone
        ]
    )
    segments.segments_refresh(tenant_id=tenant.pk)
    owner = MembershipFactory(tenant=tenant).user
    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user

    page = logged_in(owner).get("/atendimento/clientes/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Quem reconquistar esta semana" in text and "Maria" in text
    assert "Costuma voltar a cada 7 dias; a última vez foi há 72 dias" in text
    assert logged_in(agent).get("/atendimento/clientes/").status_code == 403

    conversation = ConversationFactory(tenant=tenant, chatbot__tenant=tenant, cliente=cliente)
    detail = logged_in(owner).get(f"/atendimento/conversas/{conversation.pk}/")
    assert f"/atendimento/conversas/{conversation.pk}/sugestoes/" in detail.content.decode()
    panel = logged_in(owner).get(f"/atendimento/conversas/{conversation.pk}/sugestoes/")
    assert "Mandar uma mensagem de reconquista." in panel.content.decode()
    assert "Perdidos" in panel.content.decode()
