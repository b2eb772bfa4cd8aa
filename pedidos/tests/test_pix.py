"""The Pix "copia e cola" (a static BR Code) and its QR code image."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from pedidos import checkout, pix
from pedidos.models import FormaPagamento
from pedidos.status import StatusPedido
from tests.factories import ClienteFactory

# Banco Central's example of a static Pix QR code (random key, no amount), from the "Manual
# de Padrões para Iniciação do Pix", https://www.bcb.gov.br/content/estabilidadefinanceira/pix/Regulamento_Pix/II_ManualdePadroesparaIniciacaodoPix-versao1.pdf
BCB_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)


def test_the_payload_is_banco_centrals_published_example_with_its_crc():
    code = pix.brcode(
        key="123e4567-e12b-12d1-a456-426655440000", name="Fulano de Tal", city="BRASILIA"
    )
    assert code == BCB_EXAMPLE


def test_the_crc_is_crc16_ccitt_false():
    assert pix.crc16("123456789") == "29B1"  # the algorithm's published check value
    assert pix.crc16(BCB_EXAMPLE[:-4]) == "1D3D"


def test_an_amount_and_a_txid_go_in_fields_54_and_62_and_the_crc_follows():
    code = pix.brcode(
        key="+5511987654321",
        name="Pizzaria São João da Esquina Feliz",  # longer than 25, with accents
        city="São José dos Campos",  # longer than 15
        amount=Decimal("57.5"),
        txid="PEDIDO-42",
    )
    assert "0114+5511987654321" in code
    assert "540557.50" in code
    assert "5925Pizzaria Sao Joao da Esq" in code  # ASCII, cut to 25
    assert "6015Sao Jose dos Ca" in code  # cut to 15
    assert "62120508PEDIDO42" in code  # letters and digits only
    assert code.startswith("000201") and code[-8:-4] == "6304"
    assert code[-4:] == pix.crc16(code[:-4])


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("Pagamentos@Pizzaria.com.br", "pagamentos@pizzaria.com.br"),
        ("+55 (11) 98765-4321", "+5511987654321"),
        ("(11) 98765-4321", "+5511987654321"),
        ("529.982.247-25", "52998224725"),  # a valid CPF
        ("11.222.333/0001-81", "11222333000181"),  # a valid CNPJ
        ("123E4567-E12B-12D1-A456-426655440000", "123e4567-e12b-12d1-a456-426655440000"),
    ],
)
def test_pix_keys_are_stored_as_the_dict_has_them(typed, stored):
    assert pix.key_clean(typed) == stored


@pytest.mark.parametrize("typed", ["111.111.111-11", "123.456.789-00", "pizzaria", "12345"])
def test_a_key_that_is_not_one_is_refused_saying_which_forms_are_accepted(typed):
    with pytest.raises(ValidationError, match="CPF ou CNPJ"):
        pix.key_clean(typed)


def test_a_pix_key_needs_a_city(tenant):
    with pytest.raises(ValidationError) as info:
        checkout.configuracao_save(tenant=tenant, chave_pix="pagamentos@pizzaria.com.br")
    assert "pix_cidade" in info.value.message_dict


@pytest.fixture
def pix_pedido(tenant, chatbot, produto_a):
    checkout.configuracao_save(
        tenant=tenant, chave_pix="pagamentos@pizzaria.com.br", pix_cidade="Campinas"
    )
    from pedidos import services

    return services.pedido_create(
        tenant=tenant,
        cliente=ClienteFactory(tenant=tenant),
        chatbot=chatbot,
        itens=[(produto_a, 3)],
        forma_pagamento=FormaPagamento.PIX,
    )


def test_an_orders_code_is_for_its_total_with_its_number(tenant, pix_pedido):
    code = checkout.pix_code(
        pedido=pix_pedido, configuracao=checkout.configuracao_get(tenant=tenant)
    )
    assert "540530.00" in code
    assert f"PEDIDO{pix_pedido.numero}" in code
    assert "Padaria Pao Quente" in code  # no Pix name set: the tenant's


def test_the_qr_image_is_served_only_with_a_valid_signature(client, tenant, pix_pedido):
    token = pix.image_token(pix_pedido.pk)

    good = client.get(f"/api/pedidos/pix/{token}.png")
    forged = client.get(f"/api/pedidos/pix/{pix_pedido.pk}:x:y.png")

    assert good.status_code == 200 and good.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert forged.status_code == 404


def test_a_cancelled_order_has_no_qr_image(client, tenant, pix_pedido):
    from pedidos import services

    services.pedido_change_status(pedido=pix_pedido, status=StatusPedido.CANCELADO)
    assert client.get(f"/api/pedidos/pix/{pix.image_token(pix_pedido.pk)}.png").status_code == 404


def test_the_api_shows_the_pix_code_of_an_order_paid_by_pix(key_client, tenant, pix_pedido):
    data = key_client.get(f"/api/pedidos/pedidos/{pix_pedido.pk}/").json()
    assert data["forma_pagamento"] == "pix"
    assert data["pix_copia_e_cola"].startswith("000201") and "540530.00" in data["pix_copia_e_cola"]


@pytest.mark.parametrize(
    "site_url, public",
    [
        ("https://pedidos.loja.com.br", True),
        ("http://127.0.0.1:8000", False),
        ("http://localhost:8000", False),
        ("http://192.168.0.10", False),
        ("", False),
    ],
)
def test_the_image_link_needs_an_address_the_internet_reaches(settings, site_url, public):
    settings.SITE_URL = site_url
    assert bool(pix.image_url(pedido_id=1)) is public
