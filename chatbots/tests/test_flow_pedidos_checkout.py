"""A complete order through the webhook: name, delivery or pickup, address (typed or a
location), payment (card, cash with change, Pix with its code and QR), notes, the minimum
order, delivery fees by neighbourhood, closed hours, and what the kitchen then sees in the
admin and the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from chatbots.models import Conversation, Step
from chatbots.tests.pedidos_support import fill_cart, location, pickup_by_card, tap_as
from clientes.models import Cliente
from pedidos import checkout, pix
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests.conversation import body_text, buttons, rows
from tests.factories import ChatbotFactory

PNID = "2000013"


@pytest.fixture
def bot(tenant, loja):
    return ChatbotFactory(
        tenant=tenant, name="Pizzaria", phone_number_id=PNID, app_secret="s", flow="pedidos"
    )


@pytest.fixture
def chat(chat_with, bot):
    return chat_with(bot)


@pytest.fixture
def bairros(tenant):
    checkout.taxa_entrega_create(tenant=tenant, bairro="Centro", valor=Decimal("5.00"))
    checkout.taxa_entrega_create(tenant=tenant, bairro="Jardim América", valor=Decimal("8.50"))


def _confirmed(tenant) -> Pedido:
    return Pedido.objects.get(tenant=tenant, status=StatusPedido.CONFIRMADO)


def _step() -> str:
    return Conversation.objects.get().current_step


# --- The whole order, into the admin and the API ---------------------------------------


def test_an_order_placed_through_the_chat_reaches_the_admin_and_the_api_complete(
    chat_with, bot, loja, tenant, bairros, key_client, owner
):
    chat = chat_with(bot, name="")  # WhatsApp gave no name
    chat.text("oi")
    chat.text("pizzas")
    chat.text("calabresa")
    chat.text("2")

    sent = tap_as(chat, "pedido:finalizar", "Finalizar")
    assert "qual é o seu nome" in body_text(sent[-1])
    sent = chat.text("joana silva")
    assert [t for _i, t in buttons(sent[-1])] == ["Entrega", "Retirada", "Falar com atendente"]
    sent = tap_as(chat, "pedido:entrega", "Entrega")
    assert "endereço de entrega" in body_text(sent[-1])
    sent = chat.text("Rua das Flores, 120, apto 3, Centro")  # the neighbourhood is in it
    payment = sent[-1]
    assert "Total: R$ 100,80" in body_text(payment)  # 2 × 47,90 + R$ 5,00 to Centro
    assert [r["title"] for r in rows(payment)] == [
        "Cartão na entrega",
        "Dinheiro",
        "Falar com atendente",
    ]  # no Pix without a Pix key
    sent = chat.text("dinheiro")
    assert "Troco para quanto?" in body_text(sent[-1])
    sent = chat.text("100")
    assert "acima do total, R$ 100,80" in body_text(sent[-1])  # refused, asked again
    chat.text("R$ 150,00")
    sent = chat.text("sem cebola, por favor")

    summary = body_text(sent[-1])
    for line in (
        "2 × Pizza Calabresa (R$ 47,90) = R$ 95,80",
        "Taxa de entrega (Centro): R$ 5,00",
        "Total: R$ 100,80",
        "Nome: Joana Silva",
        "Entrega: Rua das Flores, 120, apto 3, Centro",
        "Pagamento: Dinheiro (troco para R$ 150,00)",
        "Observações: sem cebola, por favor",
    ):
        assert line in summary
    sent = tap_as(chat, "pedido:confirmar", "Confirmar")

    pedido = _confirmed(tenant)
    assert f"Pedido nº {pedido.numero} confirmado" in body_text(sent[0])
    assert "Entrega: Rua das Flores" in body_text(sent[0])
    assert Cliente.objects.get().nome == "Joana Silva"
    assert (pedido.modo_entrega, pedido.bairro, pedido.forma_pagamento) == (
        "entrega",
        "Centro",
        "dinheiro",
    )
    assert (pedido.taxa_entrega, pedido.troco_para, pedido.total) == (
        Decimal("5.00"),
        Decimal("150.00"),
        Decimal("100.80"),
    )

    data = key_client.get(f"/api/pedidos/pedidos/{pedido.pk}/").json()
    assert data["cliente_nome"] == "Joana Silva"
    assert data["modo_entrega"] == "entrega" and data["modo_entrega_label"] == "Entrega"
    assert data["endereco_entrega"] == "Rua das Flores, 120, apto 3, Centro"
    assert data["bairro"] == "Centro" and data["taxa_entrega"] == "5.00"
    assert data["forma_pagamento_label"] == "Dinheiro" and data["troco_para"] == "150.00"
    assert data["observacoes"] == "sem cebola, por favor"
    assert data["total"] == "100.80"
    filtered = key_client.get("/api/pedidos/pedidos/?modo_entrega=entrega&bairro=centro").json()
    assert [row["id"] for row in filtered["results"]] == [pedido.pk]

    staff = Client()
    staff.force_login(owner)
    listing = staff.get("/admin/pedidos/pedido/?modo_entrega__exact=entrega").content.decode()
    # The list keeps seven columns (a laptop screen); the neighbourhood is on the order's page.
    assert "Joana Silva" in listing and "Dinheiro" in listing
    page = staff.get(f"/admin/pedidos/pedido/{pedido.pk}/change/").content.decode()
    assert "Rua das Flores, 120, apto 3, Centro" in page
    assert "sem cebola, por favor" in page
    assert "R$ 5,00" in page


def test_pickup_asks_no_address_and_adds_no_fee(chat, loja, tenant, bairros):
    checkout.configuracao_save(tenant=tenant, endereco_loja="Av. Brasil, 500")
    fill_cart(chat, loja)
    sent = chat.tap("pedido:finalizar", "Finalizar")
    assert "Retirada em: Av. Brasil, 500" in body_text(sent[-1])
    sent = pickup_by_card(chat)
    assert "Retirada no local: Av. Brasil, 500" in body_text(sent[-1])
    assert "Taxa de entrega" not in body_text(sent[-1])
    chat.tap("pedido:confirmar", "Confirmar")
    pedido = _confirmed(tenant)
    assert (pedido.modo_entrega, pedido.taxa_entrega, pedido.total) == (
        "retirada",
        Decimal("0.00"),
        Decimal("99.80"),
    )


# --- Address ---------------------------------------------------------------------------


def test_a_whatsapp_location_is_taken_as_the_address_then_the_neighbourhood_is_asked(
    chat, loja, tenant, bairros
):
    fill_cart(chat, loja)
    chat.tap("pedido:finalizar", "Finalizar")
    chat.tap("pedido:entrega", "Entrega")

    sent = location(chat, latitude=-23.5505199, longitude=-46.6333094, name="Edifício Sol")

    listing = rows(sent[-1])
    assert [r["title"] for r in listing] == ["Centro", "Jardim América", "Falar com atendente"]
    assert listing[1]["description"] == "Taxa: R$ 8,50"
    sent = chat.pick(f"bairro:{listing[1]['id'].split(':')[1]}", "Jardim América")
    assert "Total: R$ 108,30" in body_text(sent[-1])

    cart = Pedido.objects.get(tenant=tenant)
    assert cart.latitude == Decimal("-23.550520") and cart.longitude == Decimal("-46.633309")
    assert cart.endereco_entrega.startswith("Edifício Sol\nLocalização: https://www.google.com/")
    assert "-23.550520,-46.633309" in cart.endereco_entrega
    assert (cart.bairro, cart.taxa_entrega) == ("Jardim América", Decimal("8.50"))


def test_a_neighbourhood_not_delivered_to_is_refused_naming_the_ones_that_are(
    chat, loja, tenant, bairros
):
    fill_cart(chat, loja)
    chat.tap("pedido:finalizar", "Finalizar")
    chat.tap("pedido:entrega", "Entrega")
    chat.text("Rua Longe, 900")  # no neighbourhood of the list in it

    sent = chat.text("Vila Distante")

    assert "não entregamos no bairro Vila Distante" in body_text(sent[-1])
    assert "Centro, Jardim América" in body_text(sent[-1])
    assert ("pedido:retirada", "Retirar no local") in buttons(sent[-1])
    sent = chat.text("jardim america")  # another one, typed without accents
    assert "Como você prefere pagar?" in body_text(sent[-1])


def test_a_default_fee_takes_any_other_neighbourhood(chat, loja, tenant, bairros):
    checkout.configuracao_save(tenant=tenant, taxa_entrega_padrao=Decimal("12.00"))
    fill_cart(chat, loja)
    chat.tap("pedido:finalizar", "Finalizar")
    chat.tap("pedido:entrega", "Entrega")
    chat.text("Rua Longe, 900")
    sent = chat.text("Vila Distante")
    assert "Total: R$ 111,80" in body_text(sent[-1])


def test_the_last_address_is_offered_again(chat, loja, tenant, bairros):
    fill_cart(chat, loja)
    chat.tap("pedido:finalizar", "Finalizar")
    chat.tap("pedido:entrega", "Entrega")
    chat.text("Rua das Flores, 120, Centro")
    chat.pick("pay:cartao", "Cartão na entrega")
    chat.tap("pedido:sem_obs", "Sem observações")
    chat.tap("pedido:confirmar", "Confirmar")

    fill_cart(chat, loja, product="calabresa", quantity="1")
    chat.tap("pedido:finalizar", "Finalizar")
    sent = chat.tap("pedido:entrega", "Entrega")
    assert "Último endereço: Rua das Flores, 120, Centro" in body_text(sent[-1])
    sent = chat.tap("pedido:mesmo_endereco", "Mesmo endereço")
    assert "Total: R$ 52,90" in body_text(sent[-1])


# --- Payment ---------------------------------------------------------------------------


@pytest.fixture
def pix_tenant(tenant):
    checkout.configuracao_save(
        tenant=tenant,
        chave_pix="pagamentos@pizzaria.com.br",
        pix_nome="Pizzaria Bella",
        pix_cidade="São Paulo",
    )


def _pay_by_pix(chat, loja):
    fill_cart(chat, loja)
    chat.tap("pedido:finalizar", "Finalizar")
    chat.tap("pedido:retirada", "Retirada")
    sent = chat.pick("pay:pix", "Pix")
    assert "Observação" in body_text(sent[-1]) or "observação" in body_text(sent[-1])
    sent = chat.tap("pedido:sem_obs", "Sem observações")
    assert "Pagamento: Pix" in body_text(sent[-1])
    return chat.tap("pedido:confirmar", "Confirmar")


def test_pix_confirmation_carries_the_code_for_the_exact_total_and_its_qr_image(
    chat, loja, tenant, pix_tenant, settings, client
):
    settings.SITE_URL = "https://pedidos.pizzaria.com.br"

    sent = _pay_by_pix(chat, loja)

    pedido = _confirmed(tenant)
    code = body_text(sent[2])
    assert "R$ 99,80" in body_text(sent[1]) and "Copia e cola" in body_text(sent[1])
    assert code == checkout.pix_code(
        pedido=pedido, configuracao=checkout.configuracao_get(tenant=tenant)
    )
    assert "0014br.gov.bcb.pix0126pagamentos@pizzaria.com.br" in code
    assert "540599.80" in code  # field 54: the exact total
    assert "5914Pizzaria Bella" in code and "6009Sao Paulo" in code
    assert f"0509PEDIDO{pedido.numero}" in code or f"PEDIDO{pedido.numero}" in code
    assert code[-4:] == pix.crc16(code[:-4])

    image = sent[3]
    assert image["type"] == "image"
    link = image["image"]["link"]
    assert link.startswith("https://pedidos.pizzaria.com.br/api/pedidos/pix/")
    assert image["image"]["caption"] == f"QR Code Pix do pedido nº {pedido.numero}"
    response = client.get(link.removeprefix("https://pedidos.pizzaria.com.br"))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content == pix.qr_png(code)


def test_without_a_public_address_the_pix_code_goes_as_text_only(
    chat, loja, tenant, pix_tenant, settings
):
    settings.SITE_URL = "http://127.0.0.1:8000"
    sent = _pay_by_pix(chat, loja)
    assert [s["type"] for s in sent] == ["text", "text", "text"]
    assert body_text(sent[-1]).startswith("000201")


def test_pix_is_offered_only_with_a_pix_key(chat, loja, tenant, pix_tenant):
    fill_cart(chat, loja)
    chat.tap("pedido:finalizar", "Finalizar")
    sent = chat.tap("pedido:retirada", "Retirada")
    assert [r["title"] for r in rows(sent[-1])][0] == "Pix"


def test_cash_with_change_in_one_sentence(chat, loja, tenant):
    fill_cart(chat, loja)
    chat.tap("pedido:finalizar", "Finalizar")
    chat.tap("pedido:retirada", "Retirada")
    chat.text("dinheiro, troco pra 200")
    sent = chat.text("não")  # no notes
    assert "Pagamento: Dinheiro (troco para R$ 200,00)" in body_text(sent[-1])


def test_cash_without_change(chat, loja, tenant):
    fill_cart(chat, loja)
    chat.tap("pedido:finalizar", "Finalizar")
    chat.tap("pedido:retirada", "Retirada")
    chat.pick("pay:dinheiro", "Dinheiro")
    chat.tap("pedido:sem_troco", "Não preciso de troco")
    sent = chat.tap("pedido:sem_obs", "Sem observações")
    assert "Pagamento: Dinheiro (sem troco)" in body_text(sent[-1])


def test_a_customer_asked_for_change_may_still_pick_another_method(chat, loja, tenant):
    fill_cart(chat, loja)
    chat.tap("pedido:finalizar", "Finalizar")
    chat.tap("pedido:retirada", "Retirada")
    chat.pick("pay:dinheiro", "Dinheiro")
    chat.pick("pay:cartao", "Cartão na retirada")  # the older list, tapped instead
    sent = chat.tap("pedido:sem_obs", "Sem observações")
    assert "Pagamento: Cartão na retirada" in body_text(sent[-1])


# --- The confirmation ------------------------------------------------------------------


def test_adding_more_from_the_confirmation_keeps_the_answers(chat, loja, tenant):
    fill_cart(chat, loja)
    pickup_by_card(chat)
    chat.tap("pedido:adicionar", "Adicionar mais")
    chat.text("suco")
    chat.text("1")

    sent = chat.tap("pedido:finalizar", "Finalizar")

    assert "Confira seu pedido" in body_text(sent[-1])  # nothing asked again
    assert "1 × Suco de Laranja" in body_text(sent[-1])
    assert "Retirada no local" in body_text(sent[-1])


def test_a_typed_change_at_the_confirmation_asks_that_part_again(chat, loja, tenant):
    fill_cart(chat, loja)
    pickup_by_card(chat)

    sent = chat.text("quero mudar o pagamento")

    assert "Como você prefere pagar?" in body_text(sent[-1])
    chat.pick("pay:dinheiro", "Dinheiro")
    sent = chat.tap("pedido:sem_troco", "Não preciso de troco")
    assert "Pagamento: Dinheiro" in body_text(sent[-1])
    assert "Retirada no local" in body_text(sent[-1])  # the rest kept


# --- The business's rules --------------------------------------------------------------


def test_below_the_minimum_finalizar_says_how_much_is_missing_and_keeps_the_cart(
    chat, loja, tenant
):
    checkout.configuracao_save(tenant=tenant, valor_minimo=Decimal("60.00"))
    fill_cart(chat, loja, quantity="1")

    sent = chat.tap("pedido:finalizar", "Finalizar")

    assert "O pedido mínimo é de R$ 60,00" in body_text(sent[0])
    assert "faltam R$ 10,10" in body_text(sent[0])
    assert _step() == "adicionar_mais"
    chat.tap("pedido:adicionar", "Adicionar mais")
    chat.text("suco")
    chat.text("2")
    sent = chat.tap("pedido:finalizar", "Finalizar")
    assert "Entrega ou retirada" in body_text(sent[-1]) or "entrega ou retirada" in body_text(
        sent[-1]
    )


def test_closed_hours_are_answered_with_when_it_opens(chat, loja, tenant):
    # Wednesday 10:00 in São Paulo; open Tuesday to Sunday evenings, Wednesday at 18:00.
    now = datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
    checkout.configuracao_save(tenant=tenant, horarios={"ter-dom": "18:00-23:30"})
    with time_machine.travel(now, tick=False):
        sent = chat.text("oi")
        assert "Estamos fechados agora. Abrimos hoje às 18:00." in body_text(sent[0])
        assert "qua: 18:00-23:30" in body_text(sent[0])
        assert Conversation.objects.get().status == Conversation.Status.CLOSED
    with time_machine.travel(now + timedelta(hours=8), tick=False):
        sent = chat.text("oi")
        assert "Vamos fazer seu pedido" in body_text(sent[0])


def test_a_cart_left_open_until_closing_is_not_confirmed(chat, loja, tenant):
    now = datetime(2026, 3, 4, 23, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))  # a Wednesday
    checkout.configuracao_save(tenant=tenant, horarios={"seg-sab": "18:00-23:30"})
    with time_machine.travel(now, tick=False):
        fill_cart(chat, loja)
        pickup_by_card(chat)
    with time_machine.travel(now + timedelta(hours=1), tick=False):
        sent = chat.tap("pedido:confirmar", "Confirmar")
    assert "Abrimos hoje às 18:00" in body_text(sent[-1])  # past midnight: Thursday
    assert not Pedido.objects.filter(status=StatusPedido.CONFIRMADO).exists()


# --- A bot with only the six steps of DESIGN.md -----------------------------------------


def test_a_flow_without_the_checkout_steps_asks_them_at_the_confirmation(chat, bot, loja, tenant):
    Step.objects.filter(chatbot=bot, order__gt=6).delete()  # a bot installed before them
    fill_cart(chat, loja)

    sent = chat.tap("pedido:finalizar", "Finalizar")
    assert [t for _i, t in buttons(sent[-1])] == ["Entrega", "Retirada", "Falar com atendente"]
    assert _step() == "confirmar_pedido"
    chat.tap("pedido:entrega", "Entrega")
    chat.text("Rua das Flores, 120")
    sent = chat.text("cartão")
    assert "observação" in body_text(sent[-1])
    sent = chat.text("tocar a campainha duas vezes")
    assert "Confira seu pedido" in body_text(sent[-1])
    assert "Observações: tocar a campainha duas vezes" in body_text(sent[-1])
    chat.tap("pedido:confirmar", "Confirmar")

    pedido = _confirmed(tenant)
    assert (pedido.modo_entrega, pedido.endereco_entrega, pedido.forma_pagamento) == (
        "entrega",
        "Rua das Flores, 120",
        "cartao",
    )
    assert pedido.observacoes == "tocar a campainha duas vezes"
