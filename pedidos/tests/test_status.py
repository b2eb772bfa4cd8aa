"""The status rules (every pair of statuses) and money formatting."""

from __future__ import annotations

from decimal import Decimal
from itertools import product

import pytest

from pedidos.money import format_brl
from pedidos.status import StatusPedido, allowed_transitions, can_transition, label

S = StatusPedido
LEGAL = {
    (S.RASCUNHO, S.CONFIRMADO),
    (S.RASCUNHO, S.CANCELADO),
    (S.CONFIRMADO, S.EM_PREPARO),
    (S.CONFIRMADO, S.CANCELADO),
    (S.EM_PREPARO, S.SAIU_PARA_ENTREGA),
    (S.EM_PREPARO, S.CANCELADO),
    (S.SAIU_PARA_ENTREGA, S.ENTREGUE),
    (S.SAIU_PARA_ENTREGA, S.CANCELADO),
}


@pytest.mark.parametrize("atual,desejado", sorted(product(S.values, S.values)))
def test_it_allows_exactly_the_documented_transitions(atual, desejado):
    assert can_transition(atual, desejado) == ((atual, desejado) in LEGAL)
    assert (desejado in allowed_transitions(atual)) == ((atual, desejado) in LEGAL)


def test_delivered_and_cancelled_orders_are_final():
    assert allowed_transitions(S.ENTREGUE) == []
    assert allowed_transitions(S.CANCELADO) == []


def test_an_unknown_status_goes_nowhere():
    assert allowed_transitions("pago") == []
    assert not can_transition("pago", S.CANCELADO)
    assert not can_transition(S.CONFIRMADO, "pago")


def test_labels_are_in_portuguese():
    assert label(S.SAIU_PARA_ENTREGA) == "Saiu para entrega"
    assert label("pago") == "pago"


@pytest.mark.parametrize(
    "valor,texto",
    [
        (Decimal("1234.56"), "R$ 1.234,56"),
        (Decimal("0"), "R$ 0,00"),
        (Decimal("0.5"), "R$ 0,50"),
        (Decimal("999.999"), "R$ 1.000,00"),
        (Decimal("0.005"), "R$ 0,01"),
        (Decimal("1234567.8"), "R$ 1.234.567,80"),
        (Decimal("-10"), "-R$ 10,00"),
        (7, "R$ 7,00"),
    ],
)
def test_it_formats_reais(valor, texto):
    assert format_brl(valor) == texto


def test_it_refuses_float_money():
    with pytest.raises(TypeError):
        format_brl(1.1)
