"""Recommendations: products bought together, the service due again, the actions, the API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agenda.models import Agendamento, Servico
from billing.models import Membership
from clientes.models import Cliente
from insights import segments
from pedidos.models import Categoria, ItemPedido, Pedido, Produto
from pedidos.status import StatusPedido
from tests.factories import ChatbotFactory, MembershipFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def order(tenant, cliente, products, days_ago=1):
    pedido = Pedido.objects.create(
        tenant=tenant,
        cliente=cliente,
        status=StatusPedido.ENTREGUE,
        total=Decimal("30"),
        confirmado_em=NOW - timedelta(days=days_ago),
    )
    ItemPedido.objects.bulk_create(
        [
            ItemPedido(
                tenant=tenant, pedido=pedido, produto=p, quantidade=1, preco_unitario=p.preco
            )
            for p in products
        ]
    )


@pytest.fixture
def catalog(tenant):
    cat = Categoria.objects.create(tenant=tenant, nome="Padaria")
    return {
        n: Produto.objects.create(tenant=tenant, categoria=cat, nome=n, preco=Decimal("10"))
        for n in ("Pão", "Manteiga", "Café", "Bolo")
    }


def as_member(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_customer_who_buys_a_and_b_is_offered_the_c_others_take_with_them(tenant, catalog):
    a, b, c = catalog["Pão"], catalog["Manteiga"], catalog["Café"]
    for i in range(4):  # the habit: A and B come with C
        other = Cliente.objects.create(tenant=tenant, nome=f"outro{i}")
        order(tenant, other, [a, b, c], days_ago=i + 1)
    maria = Cliente.objects.create(tenant=tenant, nome="Maria")
    order(tenant, maria, [a, b], days_ago=2)
    order(tenant, maria, [a, b], days_ago=9)
    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user

    got = as_member(agent).get(f"/api/recommendations/?cliente={maria.pk}")

    assert got.status_code == 200, got.content
    body = got.json()
    assert [p["nome"] for p in body["products"]] == ["Café"]
    assert body["products"][0]["why"] == (
        "Está em 67% dos pedidos com o que o cliente compra (Manteiga, Pão)."
    )
    assert {"kind": "offer", "text": "Oferecer Café."}.items() <= body["actions"][0].items()


def test_without_a_shared_basket_the_products_of_similar_customers_are_offered(tenant, catalog):
    pao, cafe, bolo = catalog["Pão"], catalog["Café"], catalog["Bolo"]
    for i in range(3):  # they buy bread, and on another day coffee: never together
        other = Cliente.objects.create(tenant=tenant, nome=f"outro{i}")
        order(tenant, other, [pao], days_ago=i + 1)
        order(tenant, other, [cafe], days_ago=i + 10)
    order(tenant, Cliente.objects.create(tenant=tenant, nome="só bolo"), [bolo])
    maria = Cliente.objects.create(tenant=tenant, nome="Maria")
    order(tenant, maria, [pao])

    body = (
        as_member(MembershipFactory(tenant=tenant).user)
        .get(f"/api/recommendations/?cliente={maria.pk}")
        .json()
    )

    assert [(p["nome"], p["source"]) for p in body["products"]] == [("Café", "similar")]
    assert body["products"][0]["why"] == (
        "3 de 3 clientes que compram o mesmo que ele também levam este."
    )


def test_the_service_due_again_and_a_win_back_for_a_late_customer(tenant):
    corte = Servico.objects.create(tenant=tenant, nome="Corte de cabelo", preco=Decimal("50"))
    joao = Cliente.objects.create(tenant=tenant, nome="João")
    for days_ago in (150, 120, 90, 60):  # every 30 days, then stopped two months ago
        start = NOW - timedelta(days=days_ago)
        Agendamento.objects.create(
            tenant=tenant,
            cliente=joao,
            servico=corte,
            inicio=start,
            fim=start + timedelta(minutes=30),
            status=Agendamento.Status.CONCLUIDO,
            origem=Agendamento.Origem.CHAT,
        )
    segments.segments_refresh(tenant_id=tenant.pk, now=NOW)
    owner = MembershipFactory(tenant=tenant).user
    bot = ChatbotFactory(tenant=tenant)
    MessageTemplateFactory(chatbot=bot, name="volte_sempre", purpose="reactivation")
    MessageTemplateFactory(chatbot=bot, name="em_revisao", purpose="reminder", approved=False)

    body = as_member(owner).get(f"/api/recommendations/?cliente={joao.pk}").json()

    assert body["churn"]["risk"] == "medio"
    assert [s["nome"] for s in body["services"]] == ["Corte de cabelo"]
    assert body["services"][0]["every_days"] == 30
    assert [a["kind"] for a in body["actions"]] == ["winback", "reminder"]
    # Each action names the approved template to send; one still in review is not offered.
    assert [a["template"] for a in body["actions"]] == ["volte_sempre", None]
    assert body["actions"][1]["why"] == (
        "Faz Corte de cabelo a cada 30 dias; a última vez foi há 60 dias."
    )


def test_a_bad_id_is_a_400_naming_the_field_and_another_tenants_customer_a_404(
    tenant, other_tenant
):
    stranger = Cliente.objects.create(tenant=other_tenant, nome="Outra")
    client = as_member(MembershipFactory(tenant=tenant).user)

    bad = client.get("/api/recommendations/?cliente=abc")
    assert bad.status_code == 400 and "cliente" in bad.json()
    assert client.get("/api/recommendations/").status_code == 400
    assert client.get(f"/api/recommendations/?cliente={stranger.pk}").status_code == 404
    assert APIClient().get("/api/recommendations/?cliente=1").status_code in (401, 403)
