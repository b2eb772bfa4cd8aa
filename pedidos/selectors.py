"""Reads on the catalog and on orders, for the API, the admin and the chat handlers."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils.translation import gettext as _

from billing.models import Tenant
from chatbots.models import Chatbot
from clientes.models import Cliente
from config.text import normalize
from pedidos.models import Categoria, FormaPagamento, ItemPedido, ModoEntrega, Pedido, Produto
from pedidos.money import format_brl
from pedidos.status import RESERVA_ESTOQUE, StatusPedido


def categoria_list(*, tenant: Tenant) -> QuerySet[Categoria]:
    return Categoria.objects.filter(tenant=tenant)


def produto_list(*, tenant: Tenant) -> QuerySet[Produto]:
    return Produto.objects.filter(tenant=tenant).select_related("categoria")


def categoria_list_available(*, tenant: Tenant) -> QuerySet[Categoria]:
    """Active categories with at least one active product, in menu order (what to offer)."""
    with_product = Produto.objects.filter(categoria=OuterRef("pk"), ativo=True)
    return Categoria.objects.filter(tenant=tenant, ativo=True).filter(Exists(with_product))


def produto_list_orderable(*, tenant: Tenant) -> QuerySet[Produto]:
    """Every active product of an active category (what a typed name is searched in)."""
    return (
        Produto.objects.filter(tenant=tenant, ativo=True, categoria__ativo=True)
        .select_related("categoria")
        .order_by("categoria__ordem", "nome", "id")
    )


def produto_list_available(*, categoria: Categoria) -> QuerySet[Produto]:
    """The category's active products, by name."""
    return Produto.objects.filter(
        tenant_id=categoria.tenant_id, categoria=categoria, ativo=True
    ).order_by("nome", "id")


def pedido_list(*, tenant: Tenant | None) -> QuerySet[Pedido]:
    """Orders with what a list shows (customer, bot, items and their products) prefetched."""
    qs = Pedido.objects.all() if tenant is None else Pedido.objects.filter(tenant=tenant)
    return qs.select_related("cliente", "chatbot").prefetch_related(
        Prefetch("itens", queryset=ItemPedido.objects.select_related("produto").order_by("id"))
    )


def pedido_list_items(*, pedido: Pedido) -> QuerySet[ItemPedido]:
    return ItemPedido.objects.filter(pedido=pedido).select_related("produto").order_by("id")


def carrinho_get_open(
    *, tenant: Tenant, cliente: Cliente, chatbot: Chatbot | None = None
) -> Pedido | None:
    """The customer's open cart with this bot, if any (to resume an order in progress)."""
    return Pedido.objects.filter(
        tenant=tenant, cliente=cliente, chatbot=chatbot, status=StatusPedido.RASCUNHO
    ).first()


def pedido_summarize(*, pedido: Pedido) -> str:
    """The order as the customer reads it: one line per item, then the total.

    2 × Pão francês (R$ 0,50) = R$ 1,00
    1 × Café (R$ 5,00) = R$ 5,00
    Total: R$ 6,00
    """
    itens = list(pedido_list_items(pedido=pedido))
    if not itens:
        return _("Seu carrinho está vazio.")
    lines = [
        _("%(qtd)s × %(nome)s (%(preco)s) = %(subtotal)s")
        % {
            "qtd": item.quantidade,
            "nome": item.produto.nome,
            "preco": format_brl(item.preco_unitario),
            "subtotal": format_brl(item.subtotal),
        }
        for item in itens
    ]
    # The same sum pedido_compute_total makes in SQL, over the rows just shown.
    total = sum((item.subtotal for item in itens), start=Decimal("0"))
    if pedido.taxa_entrega:
        lines.append(
            _("Taxa de entrega (%(bairro)s): %(taxa)s")
            % {"bairro": pedido.bairro or _("entrega"), "taxa": format_brl(pedido.taxa_entrega)}
        )
        total += pedido.taxa_entrega
    lines.append(_("Total: %(total)s") % {"total": format_brl(total)})
    return "\n".join(lines)


def pedido_describe_checkout(*, pedido: Pedido, store_address: str = "") -> str:
    """Who, how it arrives, how it is paid and the notes, one line each (what is known):

    Nome: Maria
    Entrega: Rua das Flores, 10 – Centro
    Pagamento: Dinheiro (troco para R$ 100,00)
    Observações: sem cebola
    """
    lines = []
    if pedido.cliente.nome:
        lines.append(_("Nome: %(nome)s") % {"nome": pedido.cliente.nome})
    if pedido.modo_entrega == ModoEntrega.ENTREGA:
        where = pedido.endereco_entrega.strip()
        if pedido.bairro and normalize(pedido.bairro) not in normalize(where):
            # After the street, before a location's map link on the next line.
            first, _sep, rest = where.partition("\n")
            where = " – ".join(filter(None, [first, pedido.bairro])) + (f"\n{rest}" if rest else "")
        lines.append(_("Entrega: %(endereco)s") % {"endereco": where or "-"})
    elif pedido.modo_entrega == ModoEntrega.RETIRADA:
        lines.append(
            _("Retirada no local: %(endereco)s") % {"endereco": store_address}
            if store_address
            else _("Retirada no local")
        )
    if pedido.forma_pagamento:
        payment = str(FormaPagamento(pedido.forma_pagamento).label)
        if (
            pedido.forma_pagamento == FormaPagamento.CARTAO
            and pedido.modo_entrega == ModoEntrega.RETIRADA
        ):
            payment = _("Cartão na retirada")
        if pedido.forma_pagamento == FormaPagamento.DINHEIRO:
            payment += (
                _(" (troco para %(valor)s)") % {"valor": format_brl(pedido.troco_para)}
                if pedido.troco_para
                else _(" (sem troco)")
            )
        lines.append(_("Pagamento: %(forma)s") % {"forma": payment})
    if pedido.observacoes:
        lines.append(_("Observações: %(obs)s") % {"obs": pedido.observacoes})
    return "\n".join(lines)


def pedido_last_delivery(*, tenant: Tenant, cliente: Cliente) -> Pedido | None:
    """The customer's last confirmed delivery order with an address (to offer it again)."""
    return (
        Pedido.objects.filter(tenant=tenant, cliente=cliente, modo_entrega=ModoEntrega.ENTREGA)
        .exclude(status__in=[StatusPedido.RASCUNHO, StatusPedido.CANCELADO])
        .exclude(endereco_entrega="")
        .order_by("-criado_em", "-id")
        .first()
    )


def pedido_confirmed_list(*, tenant: Tenant) -> QuerySet[Pedido]:
    """Orders confirmed and still standing (confirmed, preparing, out for delivery or
    delivered): the ones that count as sales."""
    return Pedido.objects.filter(tenant=tenant, status__in=list(RESERVA_ESTOQUE))


def pedido_get_latest(*, tenant: Tenant, cliente: Cliente) -> Pedido | None:
    """The customer's most recent order past the cart (confirmed, on its way, delivered or
    cancelled), for "cadê meu pedido?"; None when they never ordered."""
    return (
        Pedido.objects.filter(tenant=tenant, cliente=cliente)
        .exclude(status=StatusPedido.RASCUNHO)
        .order_by("-criado_em", "-id")
        .first()
    )
