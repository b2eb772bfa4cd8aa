"""The business's rules for taking orders: opening hours, delivery fees by neighbourhood,
the minimum order, and their settings through the admin and the API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from pedidos import checkout, hours, services
from pedidos.errors import AbaixoDoMinimo, BairroNaoAtendido
from pedidos.models import ConfiguracaoPedidos, Produto, TaxaEntrega
from tests.factories import ClienteFactory

SP = ZoneInfo("America/Sao_Paulo")
WEDNESDAY_10H = datetime(2026, 3, 4, 10, 0, tzinfo=SP)


# --- Opening hours -------------------------------------------------------------------------


def test_hours_are_stored_in_one_form_whatever_way_they_are_typed():
    typed = {"Seg-Sex": "18h-23h", "sábado": "11:00-15:00, 18:00-02:00", "dom": "fechado"}
    assert hours.schedule_clean(typed) == {
        "seg": "18:00-23:00",
        "ter": "18:00-23:00",
        "qua": "18:00-23:00",
        "qui": "18:00-23:00",
        "sex": "18:00-23:00",
        "sab": "11:00-15:00, 18:00-02:00",
    }


@pytest.mark.parametrize(
    "typed, says",
    [({"feriados": "18-23"}, "feriados"), ({"seg": "18 às 25"}, "18 às 25"), ("18-23", "JSON")],
)
def test_hours_that_do_not_parse_are_refused_naming_the_entry(typed, says):
    with pytest.raises(ValidationError, match=says):
        hours.schedule_clean(typed)


@pytest.mark.parametrize(
    "at, open_",
    [
        (datetime(2026, 3, 4, 17, 59, tzinfo=SP), False),  # Wednesday before opening
        (datetime(2026, 3, 4, 18, 0, tzinfo=SP), True),
        (datetime(2026, 3, 7, 1, 30, tzinfo=SP), True),  # Saturday 1:30: Friday's night
        (datetime(2026, 3, 7, 2, 0, tzinfo=SP), False),
        (datetime(2026, 3, 8, 12, 0, tzinfo=SP), False),  # Sunday: closed
    ],
)
def test_an_interval_past_midnight_belongs_to_the_day_it_starts(at, open_):
    schedule = hours.schedule_clean({"seg-qui": "18:00-23:00", "sex": "18:00-02:00"})
    assert hours.is_open(schedule, at) is open_


def test_the_next_opening_is_said_as_a_customer_reads_it():
    schedule = hours.schedule_clean({"qua": "18:00-23:00", "sab": "11:00-15:00"})
    today = hours.next_opening(schedule, WEDNESDAY_10H)
    saturday = hours.next_opening(schedule, datetime(2026, 3, 4, 23, 30, tzinfo=SP))
    assert hours.when_text(today, WEDNESDAY_10H) == "hoje às 18:00"
    assert hours.when_text(saturday, WEDNESDAY_10H) == "sábado às 11:00"
    assert hours.is_open({}, WEDNESDAY_10H)  # no schedule: always open


def test_closed_says_when_it_opens(tenant):
    cfg = checkout.configuracao_save(tenant=tenant, horarios={"qui": "11:00-14:00"})
    closed = checkout.closed_reason(configuracao=cfg, at=WEDNESDAY_10H)
    assert closed.messages == ["Estamos fechados agora. Abrimos amanhã às 11:00."]


# --- Fees and the minimum ------------------------------------------------------------------


def test_the_fee_is_the_neighbourhoods_or_the_default_or_refused(tenant):
    cfg = checkout.configuracao_get(tenant=tenant)
    assert checkout.fee_for(configuracao=cfg, bairro="Qualquer") == Decimal("0.00")  # no list
    checkout.taxa_entrega_create(tenant=tenant, bairro="Centro", valor=Decimal("5.00"))
    assert checkout.fee_for(configuracao=cfg, bairro="centro") == Decimal("5.00")
    with pytest.raises(BairroNaoAtendido, match="Entregamos em: Centro"):
        checkout.fee_for(configuracao=cfg, bairro="Vila Nova")
    cfg = checkout.configuracao_save(tenant=tenant, taxa_entrega_padrao=Decimal("9.90"))
    assert checkout.fee_for(configuracao=cfg, bairro="Vila Nova") == Decimal("9.90")


def test_a_neighbourhood_has_one_fee(tenant):
    checkout.taxa_entrega_create(tenant=tenant, bairro="Centro", valor=Decimal("5.00"))
    with pytest.raises(ValidationError, match="já tem uma taxa"):
        checkout.taxa_entrega_create(tenant=tenant, bairro="Centro", valor=Decimal("6.00"))


def test_the_total_includes_the_fee_and_the_minimum_excludes_it(tenant, chatbot, produto_a):
    cliente = ClienteFactory(tenant=tenant)
    cart = services.carrinho_get_or_create(tenant=tenant, cliente=cliente, chatbot=chatbot)
    services.carrinho_add_item(pedido=cart, produto=produto_a, quantidade=2)
    checkout.taxa_entrega_create(tenant=tenant, bairro="Centro", valor=Decimal("5.00"))
    cfg = checkout.configuracao_save(tenant=tenant, valor_minimo=Decimal("25.00"))

    cart = checkout.pedido_set_delivery(
        pedido=cart, configuracao=cfg, modo="entrega", endereco="Rua A, 1", bairro="Centro"
    )

    assert cart.total == Decimal("25.00")  # 2 × 10,00 + 5,00
    with pytest.raises(AbaixoDoMinimo, match="faltam R\\$ 5,00"):
        checkout.minimum_check(pedido=cart, configuracao=cfg)
    services.carrinho_empty(pedido=cart)
    cart.refresh_from_db()
    assert (cart.modo_entrega, cart.taxa_entrega, cart.total) == ("", Decimal("0.00"), Decimal("0"))


def test_only_the_modes_and_payments_the_business_takes_are_accepted(tenant, chatbot):
    cfg = checkout.configuracao_save(tenant=tenant, aceita_entrega=False)
    cart = services.carrinho_get_or_create(
        tenant=tenant, cliente=ClienteFactory(tenant=tenant), chatbot=chatbot
    )
    with pytest.raises(ValidationError, match="Não fazemos entrega"):
        checkout.pedido_set_delivery(pedido=cart, configuracao=cfg, modo="entrega")
    with pytest.raises(ValidationError, match="não está disponível"):
        checkout.pedido_set_payment(pedido=cart, configuracao=cfg, forma="pix")  # no key
    with pytest.raises(ValidationError) as info:
        checkout.configuracao_save(tenant=tenant, aceita_retirada=False)
    assert "aceita_entrega" in info.value.message_dict


# --- Settings in the API and the admin -----------------------------------------------------


def test_the_settings_are_created_once_and_changed_through_the_api(key_client, tenant):
    url = "/api/pedidos/configuracao/"
    created = key_client.post(
        url,
        {"valor_minimo": "30.00", "horarios": {"seg-sex": "18h-23h"}, "endereco_loja": "Rua B"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["horarios"]["qua"] == "18:00-23:00"
    again = key_client.post(url, {"valor_minimo": "10.00"}, format="json")
    assert again.status_code == 400 and "já tem uma configuração" in str(again.json())

    pk = created.json()["id"]
    bad = key_client.patch(f"{url}{pk}/", {"chave_pix": "não é chave"}, format="json")
    assert bad.status_code == 400 and "chave_pix" in bad.json()
    ok = key_client.patch(
        f"{url}{pk}/", {"chave_pix": "+55 11 98765-4321", "pix_cidade": "Campinas"}, format="json"
    )
    assert ok.status_code == 200, ok.content
    assert ConfiguracaoPedidos.objects.get(tenant=tenant).chave_pix == "+5511987654321"


def test_delivery_fees_through_the_api(key_client, tenant, other_tenant):
    TaxaEntrega.objects.create(tenant=other_tenant, bairro="Centro", valor=Decimal("1.00"))
    created = key_client.post(
        "/api/pedidos/taxas-entrega/", {"bairro": " Jardim  América ", "valor": "8.50"}
    )
    assert created.status_code == 201, created.content
    assert created.json()["bairro"] == "Jardim América"
    listing = key_client.get("/api/pedidos/taxas-entrega/").json()["results"]
    assert [row["bairro"] for row in listing] == ["Jardim América"]  # not the other tenant's


def test_synonyms_are_edited_as_text_or_a_list_in_the_api(key_client, tenant, categoria):
    created = key_client.post(
        "/api/pedidos/produtos/",
        {
            "categoria": categoria.pk,
            "nome": "Coca-Cola 2L",
            "preco": "12.00",
            "sinonimos": ["coca", " coca cola ", "Coca"],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["sinonimos"] == "coca, coca cola"
    pk = created.json()["id"]
    key_client.patch(f"/api/pedidos/produtos/{pk}/", {"sinonimos": "refri,, refrigerante"})
    assert Produto.objects.get(pk=pk).sinonimos_lista == ["refri", "refrigerante"]


def test_the_admin_edits_the_settings_fees_and_synonyms(client, owner, tenant, produto_a):
    client.force_login(owner)
    response = client.post(
        "/admin/pedidos/configuracaopedidos/add/",
        {
            "tenant": tenant.pk,
            "valor_minimo": "20.00",
            "aceita_entrega": "on",
            "aceita_retirada": "on",
            "horarios": '{"seg": "25:00-26:00"}',
            "chave_pix": "",
            "pix_nome": "",
            "pix_cidade": "",
            "endereco_loja": "",
            "taxa_entrega_padrao": "",
        },
    )
    assert response.status_code == 200  # shown again with the error
    assert "não reconhecido" in response.content.decode()

    response = client.post(
        f"/admin/pedidos/produto/{produto_a.pk}/change/",
        {
            "tenant": tenant.pk,
            "categoria": produto_a.categoria_id,
            "nome": produto_a.nome,
            "descricao": "",
            "preco": "10.00",
            "ativo": "on",
            "estoque": "",
            "imagem_url": "",
            "retailer_id": produto_a.retailer_id,
            "sinonimos": "xis, x burguer",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    produto_a.refresh_from_db()
    assert produto_a.sinonimos_lista == ["xis", "x burguer"]
    assert client.get("/admin/pedidos/taxaentrega/").status_code == 200
