"""Order statuses and the moves between them: the one place that knows them.

    rascunho → confirmado → em_preparo → saiu_para_entrega → entregue
    any of the above except entregue → cancelado

`rascunho` is the customer's open cart (see pedidos.services.carrinho_*). Models, admin,
API and services all read from here; nothing else spells a status.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StatusPedido(models.TextChoices):
    RASCUNHO = "rascunho", _("Rascunho (carrinho)")
    CONFIRMADO = "confirmado", _("Confirmado")
    EM_PREPARO = "em_preparo", _("Em preparo")
    SAIU_PARA_ENTREGA = "saiu_para_entrega", _("Saiu para entrega")
    ENTREGUE = "entregue", _("Entregue")
    CANCELADO = "cancelado", _("Cancelado")


_S = StatusPedido

# The forward path; `cancelado` is added below for every state before `entregue`.
_FORWARD: dict[str, list[str]] = {
    _S.RASCUNHO: [_S.CONFIRMADO],
    _S.CONFIRMADO: [_S.EM_PREPARO],
    _S.EM_PREPARO: [_S.SAIU_PARA_ENTREGA],
    _S.SAIU_PARA_ENTREGA: [_S.ENTREGUE],
    _S.ENTREGUE: [],
    _S.CANCELADO: [],
}

TRANSITIONS: dict[str, tuple[str, ...]] = {
    status: tuple(nexts + ([_S.CANCELADO] if status not in (_S.ENTREGUE, _S.CANCELADO) else []))
    for status, nexts in _FORWARD.items()
}

# States in which the order holds stock (decremented at confirmation, given back on cancel).
RESERVA_ESTOQUE = frozenset({_S.CONFIRMADO, _S.EM_PREPARO, _S.SAIU_PARA_ENTREGA, _S.ENTREGUE})

# What the customer reads when staff move the order ({numero}: the order number).
MENSAGEM_CLIENTE = {
    _S.CONFIRMADO: _("Seu pedido nº {numero} foi confirmado. Total: {total}."),
    _S.EM_PREPARO: _("Seu pedido nº {numero} está em preparo."),
    _S.SAIU_PARA_ENTREGA: _("Seu pedido nº {numero} saiu para entrega."),
    _S.ENTREGUE: _("Seu pedido nº {numero} foi entregue. Obrigado pela preferência!"),
    _S.CANCELADO: _("Seu pedido nº {numero} foi cancelado."),
}


def is_valid(status: str) -> bool:
    return status in TRANSITIONS


def label(status: str) -> str:
    """The pt-BR label of a status (the raw value if unknown, so messages never crash)."""
    try:
        return str(StatusPedido(status).label)
    except ValueError:
        return status


def allowed_transitions(status: str) -> list[str]:
    """The statuses an order in `status` may move to (empty for final or unknown states)."""
    return list(TRANSITIONS.get(status, ()))


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, ())
