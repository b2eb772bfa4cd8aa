"""What an order needs besides its items, and the rules of the business that takes it.

Before a cart is confirmed the chat asks, in this order, what is missing (`missing`): the
customer's name (Cliente.nome, when WhatsApp gave none), delivery or pickup, the address and
neighbourhood (delivery only), and the payment method (Pix, card on delivery, or cash with
the change wanted). Each answer is written on the cart right away (`pedido_set_*`), so a
customer who leaves mid-way finds it when they come back.

The business's rules are its ConfiguracaoPedidos (`configuracao_get`; none saved means the
defaults below): a minimum value of the items, opening hours (pedidos.hours), the delivery
fee by neighbourhood (TaxaEntrega, or the default fee for the others), the store's address
for pickup, and a Pix key, with which the confirmation carries a Pix code for the exact
amount (`pix_code`, pedidos.pix). `pedido_confirm_checkout` checks them all once more and
confirms.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Tenant
from clientes.models import Cliente
from pedidos import hours, pix, services
from pedidos.errors import (
    AbaixoDoMinimo,
    BairroNaoAtendido,
    LojaFechada,
    OpcaoIndisponivel,
    TrocoInsuficiente,
)
from pedidos.models import ConfiguracaoPedidos, FormaPagamento, ModoEntrega, Pedido, TaxaEntrega
from pedidos.money import money_round

# What is asked, in order (`missing` returns a sublist).
NOME = "nome"
MODO = "modo_entrega"
ENDERECO = "endereco"
PAGAMENTO = "pagamento"
ASKED = (NOME, MODO, ENDERECO, PAGAMENTO)


# --- The business's rules ----------------------------------------------------------------


def configuracao_get(*, tenant: Tenant) -> ConfiguracaoPedidos:
    """The tenant's ConfiguracaoPedidos, or an unsaved one with the defaults."""
    found = ConfiguracaoPedidos.objects.filter(tenant=tenant).first()
    return found if found is not None else ConfiguracaoPedidos(tenant=tenant)


def configuracao_save(*, tenant: Tenant, **fields: Any) -> ConfiguracaoPedidos:
    """Create or change the tenant's ConfiguracaoPedidos (validated: hours, Pix key...)."""
    configuracao = configuracao_get(tenant=tenant)
    for field, value in fields.items():
        setattr(configuracao, field, value)
    configuracao.full_clean()
    configuracao.save()
    return configuracao


def taxa_entrega_create(*, tenant: Tenant, bairro: str, valor: Decimal, ativo: bool = True):
    taxa = TaxaEntrega(tenant=tenant, bairro=" ".join(bairro.split()), valor=valor, ativo=ativo)
    taxa.full_clean()
    taxa.save()
    return taxa


def taxa_entrega_update(*, taxa: TaxaEntrega, **changes: Any) -> TaxaEntrega:
    if "bairro" in changes:
        changes["bairro"] = " ".join(str(changes["bairro"]).split())
    for field, value in changes.items():
        setattr(taxa, field, value)
    taxa.full_clean()
    taxa.save()
    return taxa


def bairros_list(*, tenant: Tenant) -> list[TaxaEntrega]:
    """The neighbourhoods delivered to with their fee, by name."""
    return list(TaxaEntrega.objects.filter(tenant=tenant, ativo=True).order_by("bairro", "id"))


def _local_now(tenant: Tenant, at: datetime | None) -> datetime:
    return timezone.localtime(at or timezone.now(), ZoneInfo(tenant.time_zone))


def closed_reason(*, configuracao: ConfiguracaoPedidos, at: datetime | None = None):
    """LojaFechada (saying when it opens) when the business is closed at `at`, else None."""
    now = _local_now(configuracao.tenant, at)
    if hours.is_open(configuracao.horarios, now):
        return None
    opens = hours.next_opening(configuracao.horarios, now)
    return LojaFechada(quando=hours.when_text(opens, now) if opens else "")


def minimum_check(*, pedido: Pedido, configuracao: ConfiguracaoPedidos) -> None:
    """AbaixoDoMinimo when the items add up to less than the business's minimum."""
    subtotal = services.pedido_compute_subtotal(pedido=pedido)
    if configuracao.valor_minimo and subtotal < configuracao.valor_minimo:
        raise AbaixoDoMinimo(
            minimo=configuracao.valor_minimo,
            subtotal=subtotal,
            falta=configuracao.valor_minimo - subtotal,
        )


def modes(configuracao: ConfiguracaoPedidos) -> list[str]:
    """The delivery modes the business takes, delivery first."""
    found = [ModoEntrega.ENTREGA] if configuracao.aceita_entrega else []
    return found + ([ModoEntrega.RETIRADA] if configuracao.aceita_retirada else [])


def payments(configuracao: ConfiguracaoPedidos) -> list[str]:
    """The payment methods offered: Pix only with a key to pay to."""
    found = [FormaPagamento.PIX] if configuracao.chave_pix else []
    return found + [FormaPagamento.CARTAO, FormaPagamento.DINHEIRO]


def fee_for(*, configuracao: ConfiguracaoPedidos, bairro: str) -> Decimal:
    """The delivery fee to `bairro` (a TaxaEntrega's name, any case), or BairroNaoAtendido."""
    taxas = bairros_list(tenant=configuracao.tenant)
    for taxa in taxas:
        if taxa.bairro.casefold() == bairro.strip().casefold():
            return taxa.valor
    if configuracao.taxa_entrega_padrao is not None:
        return configuracao.taxa_entrega_padrao
    if not taxas:
        return Decimal("0.00")  # no list: delivery everywhere, free
    raise BairroNaoAtendido(bairro=bairro, atendidos=[t.bairro for t in taxas])


def asks_bairro(configuracao: ConfiguracaoPedidos) -> bool:
    """Whether the fee depends on the neighbourhood (a list of them exists)."""
    return TaxaEntrega.objects.filter(tenant=configuracao.tenant, ativo=True).exists()


# --- What the order still needs ------------------------------------------------------------


def missing(*, pedido: Pedido, cliente: Cliente, configuracao: ConfiguracaoPedidos) -> list[str]:
    """What is still to be asked before the order can be confirmed, in ASKED order."""
    found = []
    if not (cliente.nome or "").strip():
        found.append(NOME)
    if pedido.modo_entrega not in modes(configuracao):
        found.append(MODO)
    elif pedido.modo_entrega == ModoEntrega.ENTREGA and (
        not pedido.endereco_entrega.strip() or (asks_bairro(configuracao) and not pedido.bairro)
    ):
        found.append(ENDERECO)
    if pedido.forma_pagamento not in payments(configuracao):
        found.append(PAGAMENTO)
    return found


def _write(pedido: Pedido, **fields: Any) -> Pedido:
    """Set `fields` on the open cart (locked) and recompute its total."""
    with transaction.atomic():
        locked = services.carrinho_lock_open(pedido)
        for field, value in fields.items():
            setattr(locked, field, value)
        locked.total = services.pedido_compute_total(pedido=locked)
        locked.save(update_fields=[*fields, "total", "atualizado_em"])
    return locked


def pedido_set_delivery(
    *,
    pedido: Pedido,
    configuracao: ConfiguracaoPedidos,
    modo: str,
    endereco: str = "",
    bairro: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
) -> Pedido:
    """Delivery (with its address, neighbourhood and fee) or pickup (no fee)."""
    if modo not in modes(configuracao):
        raise OpcaoIndisponivel(
            message=_("Não fazemos %(modo)s. Escolha: %(opcoes)s.")
            % {
                "modo": str(ModoEntrega(modo).label).lower() if modo in ModoEntrega else modo,
                "opcoes": ", ".join(str(ModoEntrega(m).label) for m in modes(configuracao)),
            }
        )
    if modo == ModoEntrega.RETIRADA:
        return _write(
            pedido,
            modo_entrega=modo,
            bairro="",
            taxa_entrega=Decimal("0.00"),
            latitude=None,
            longitude=None,
            endereco_entrega="",
        )
    fields: dict[str, Any] = {"modo_entrega": modo}
    if endereco:
        fields.update(endereco_entrega=endereco.strip(), latitude=latitude, longitude=longitude)
    if bairro or not asks_bairro(configuracao):
        fields.update(
            bairro=bairro.strip(), taxa_entrega=fee_for(configuracao=configuracao, bairro=bairro)
        )
    return _write(pedido, **fields)


def pedido_set_payment(
    *,
    pedido: Pedido,
    configuracao: ConfiguracaoPedidos,
    forma: str,
    troco_para: Decimal | None = None,
) -> Pedido:
    """The payment method; cash may name the note to change (above the total)."""
    if forma not in payments(configuracao):
        raise OpcaoIndisponivel(
            message=_("Essa forma de pagamento não está disponível. Escolha: %(opcoes)s.")
            % {"opcoes": ", ".join(str(FormaPagamento(f).label) for f in payments(configuracao))}
        )
    if forma != FormaPagamento.DINHEIRO:
        troco_para = None
    if troco_para is not None:
        troco_para = money_round(troco_para)
        total = services.pedido_compute_total(pedido=pedido)
        if troco_para <= total:
            raise TrocoInsuficiente(total=total)
    return _write(pedido, forma_pagamento=forma, troco_para=troco_para)


def pedido_set_notes(*, pedido: Pedido, observacoes: str) -> Pedido:
    return _write(pedido, observacoes=(observacoes or "").strip()[:1000])


# What each part of a typed change at the confirmation clears ("mudar o pagamento").
PARTS = {
    "delivery": (
        "modo_entrega",
        "endereco_entrega",
        "bairro",
        "latitude",
        "longitude",
        "taxa_entrega",
    ),
    "payment": ("forma_pagamento", "troco_para"),
    "notes": ("observacoes",),
}


def pedido_clear(*, pedido: Pedido, parts: list[str]) -> Pedido:
    """Forget parts of what the checkout asked (PARTS), so it is asked again."""
    fields = {f: services.CHECKOUT_BLANK[f] for part in parts for f in PARTS[part]}
    return _write(pedido, **fields) if fields else pedido


def pedido_confirm_checkout(
    *, pedido: Pedido, configuracao: ConfiguracaoPedidos, at: datetime | None = None
) -> Pedido:
    """Confirm a cart the chat completed: open now, above the minimum, the fee of its
    neighbourhood as it is now; then pedidos.services.pedido_confirm (prices, stock)."""
    closed = closed_reason(configuracao=configuracao, at=at)
    if closed is not None:
        raise closed
    minimum_check(pedido=pedido, configuracao=configuracao)
    with transaction.atomic():
        if pedido.modo_entrega == ModoEntrega.ENTREGA:
            fee = fee_for(configuracao=configuracao, bairro=pedido.bairro)
            if fee != pedido.taxa_entrega:
                pedido = _write(pedido, taxa_entrega=fee)
        return services.pedido_confirm(pedido=pedido)


# --- Pix -----------------------------------------------------------------------------------


def pix_code(*, pedido: Pedido, configuracao: ConfiguracaoPedidos) -> str:
    """The Pix "copia e cola" for the order's total, or "" (no key, or not paid by Pix)."""
    if pedido.forma_pagamento != FormaPagamento.PIX or not configuracao.chave_pix:
        return ""
    return pix.brcode(
        key=configuracao.chave_pix,
        name=configuracao.pix_nome or configuracao.tenant.name,
        city=configuracao.pix_cidade,
        amount=pedido.total,
        txid=pix.txid_for(pedido.numero),
    )
