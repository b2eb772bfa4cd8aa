"""Writes on the catalog and on orders. Views, admin, handlers and tasks call these.

The cart is a `Pedido` in status `rascunho` with its `ItemPedido` rows: one open cart per
(tenant, customer, bot), so it survives across messages and workers, and a customer who
comes back mid-order finds it as they left it. Its unit prices follow the catalog until
confirmation, which copies them for good (the price snapshot), recomputes the total and
takes the stock in one transaction. Telling the customer about an order is in
pedidos.notifications, the stale-cart job in pedidos.stale_carts.

Totals are always computed here (`pedido_compute_total`: the items plus the delivery fee),
never taken from input. What the chat asks before confirming (delivery, payment, notes) is
written by pedidos.checkout. Errors live in pedidos.errors (re-exported here) and are django
ValidationError subclasses with a pt-BR message the customer or staff can act on; the API
answers them as 400, handlers show `exc.messages`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Tenant
from chatbots.models import Chatbot
from clientes.models import Cliente
from pedidos import notifications
from pedidos import status as st
from pedidos.errors import (
    CarrinhoVazio,
    EstoqueInsuficiente,
    ItensNaoEncontrados,
    PedidoFechado,
    ProdutoIndisponivel,
    QuantidadeInvalida,
    StatusDesconhecido,
    TransicaoInvalida,
)
from pedidos.models import Categoria, ItemPedido, Pedido, Produto
from pedidos.money import money_round
from pedidos.status import StatusPedido

__all__ = [  # the errors, for callers that catch them as services.<Error>
    "CarrinhoVazio",
    "EstoqueInsuficiente",
    "ItensNaoEncontrados",
    "PedidoFechado",
    "ProdutoIndisponivel",
    "QuantidadeInvalida",
    "StatusDesconhecido",
    "TransicaoInvalida",
]

logger = logging.getLogger(__name__)

# Default ceiling on the units of one product in one order: catches a typo ("100" for
# "10", a phone number pasted as a quantity) before it reaches the kitchen. Per call.
MAX_QUANTITY = 99


# --- Quantities --------------------------------------------------------------------------


def quantidade_validate(value: Any, *, maximum: int = MAX_QUANTITY) -> int:
    """Return `value` as an int from 1 to `maximum`, or raise QuantidadeInvalida.

    Accepts an int or the digits a customer types ("2", " 3 "); refuses words ("dois"),
    fractions ("1.5"), signs ("-1", "+2"), zero, booleans and anything above `maximum`.
    """
    if isinstance(value, bool):
        raise QuantidadeInvalida(maximo=maximum)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip()[:12])  # 12 digits are already far above any maximum
    else:
        raise QuantidadeInvalida(maximo=maximum)
    if not 1 <= number <= maximum:
        raise QuantidadeInvalida(maximo=maximum)
    return number


# --- Catalog -----------------------------------------------------------------------------


def _save(obj, *, exclude: Sequence[str] = ()) -> None:
    # full_clean runs field validators and the model's (tenant-scoped) unique constraints,
    # so the API and the admin get the same pt-BR field errors instead of an IntegrityError.
    obj.full_clean(exclude=list(exclude))
    obj.save()


def _check_same_tenant(tenant_id: int, obj, field: str) -> None:
    if obj is not None and obj.tenant_id != tenant_id:
        raise ValidationError({field: _("Registro não encontrado.")})


def categoria_create(*, tenant: Tenant, nome: str, ordem: int = 0, ativo: bool = True) -> Categoria:
    categoria = Categoria(tenant=tenant, nome=nome.strip(), ordem=ordem, ativo=ativo)
    _save(categoria)
    return categoria


def categoria_update(*, categoria: Categoria, **changes: Any) -> Categoria:
    if "nome" in changes:
        changes["nome"] = changes["nome"].strip()
    for field, value in changes.items():
        setattr(categoria, field, value)
    _save(categoria)
    return categoria


def categoria_delete(*, categoria: Categoria) -> None:
    if categoria.produtos.exists():
        raise ValidationError(
            _(
                "A categoria %(nome)s tem produtos: mova-os para outra categoria ou "
                "desative a categoria em vez de excluí-la."
            )
            % {"nome": categoria.nome}
        )
    categoria.delete()


def produto_create(
    *,
    tenant: Tenant,
    categoria: Categoria,
    nome: str,
    preco: Decimal,
    descricao: str = "",
    ativo: bool = True,
    estoque: int | None = None,
    imagem_url: str = "",
    retailer_id: str = "",
    sinonimos: str = "",
) -> Produto:
    _check_same_tenant(tenant.pk, categoria, "categoria")
    produto = Produto(
        tenant=tenant,
        categoria=categoria,
        nome=nome.strip(),
        preco=preco,
        descricao=descricao,
        ativo=ativo,
        estoque=estoque,
        imagem_url=imagem_url,
        retailer_id=(retailer_id or "").strip(),
        sinonimos=sinonimos_clean(sinonimos),
    )
    _save(produto)
    return produto


def produto_update(*, produto: Produto, **changes: Any) -> Produto:
    if "categoria" in changes:
        _check_same_tenant(produto.tenant_id, changes["categoria"], "categoria")
    for field in ("nome", "retailer_id"):
        if field in changes:
            changes[field] = (changes[field] or "").strip()
    if "sinonimos" in changes:
        changes["sinonimos"] = sinonimos_clean(changes["sinonimos"])
    for field, value in changes.items():
        setattr(produto, field, value)
    _save(produto)
    return produto


def sinonimos_clean(value: Any) -> str:
    """A product's synonyms as stored: "coca, coca cola" from that text or from a list,
    each trimmed, empty and repeated ones dropped."""
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    seen: dict[str, None] = {}
    for item in items:
        word = " ".join(str(item).split())
        if word and word.casefold() not in {k.casefold() for k in seen}:
            seen[word] = None
    return ", ".join(seen)


@transaction.atomic
def produto_delete(*, produto: Produto) -> None:
    """Delete a product never ordered; one in a placed order must be deactivated instead."""
    if produto.itens_pedido.exclude(pedido__status=StatusPedido.RASCUNHO).exists():
        raise ValidationError(
            _(
                "%(nome)s já aparece em pedidos e precisa continuar no histórico: "
                "desative o produto em vez de excluí-lo."
            )
            % {"nome": produto.nome}
        )
    carrinhos = list(
        Pedido.objects.filter(itens__produto=produto, status=StatusPedido.RASCUNHO).distinct()
    )
    produto.itens_pedido.all().delete()
    produto.delete()
    for carrinho in carrinhos:
        _update_total(carrinho)


# --- Totals ------------------------------------------------------------------------------


def pedido_compute_subtotal(*, pedido: Pedido) -> Decimal:
    """Σ quantidade × preço unitário of the order's items, in the database, to the cent."""
    subtotal = ExpressionWrapper(
        F("quantidade") * F("preco_unitario"),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )
    total = ItemPedido.objects.filter(pedido=pedido).aggregate(total=Sum(subtotal))["total"]
    return money_round(total or Decimal("0"))


def pedido_compute_total(*, pedido: Pedido) -> Decimal:
    """The items' subtotal plus the order's delivery fee, to the cent."""
    return money_round(pedido_compute_subtotal(pedido=pedido) + (pedido.taxa_entrega or 0))


def _update_total(pedido: Pedido) -> None:
    pedido.total = pedido_compute_total(pedido=pedido)
    pedido.save(update_fields=["total", "atualizado_em"])


# --- The cart ----------------------------------------------------------------------------


def _open_carts(*, tenant: Tenant, cliente: Cliente, chatbot: Chatbot | None):
    return Pedido.objects.filter(
        tenant=tenant, cliente=cliente, chatbot=chatbot, status=StatusPedido.RASCUNHO
    )


def carrinho_get_or_create(
    *, tenant: Tenant, cliente: Cliente, chatbot: Chatbot | None = None
) -> Pedido:
    """The customer's open cart with this bot, created empty if there is none.

    Safe when two workers ask at once: the partial unique constraint decides, we re-read.
    """
    _check_same_tenant(tenant.pk, cliente, "cliente")
    _check_same_tenant(tenant.pk, chatbot, "chatbot")
    for _attempt in range(2):
        carrinho = _open_carts(tenant=tenant, cliente=cliente, chatbot=chatbot).first()
        if carrinho is not None:
            return carrinho
        try:
            with transaction.atomic():
                return Pedido.objects.create(
                    tenant=tenant, cliente=cliente, chatbot=chatbot, status=StatusPedido.RASCUNHO
                )
        except IntegrityError:
            continue  # another worker opened it first; use theirs
    raise RuntimeError("could not open a cart")  # pragma: no cover - needs three racing inserts


def carrinho_lock_open(pedido: Pedido) -> Pedido:
    """Lock the cart's row (changes to one cart run one at a time) and check it is open."""
    locked = Pedido.objects.select_for_update().get(pk=pedido.pk)
    if locked.status != StatusPedido.RASCUNHO:
        raise PedidoFechado(pedido=locked)
    return locked


def carrinho_add_item(
    *, pedido: Pedido, produto: Produto, quantidade: Any, maximum: int = MAX_QUANTITY
) -> ItemPedido:
    """Add `quantidade` of `produto` to the cart (summed with what is already there).

    `quantidade` may be what the customer typed. Raises QuantidadeInvalida,
    EstoqueInsuficiente or ProdutoIndisponivel, leaving the cart as it was.
    """
    quantidade = quantidade_validate(quantidade, maximum=maximum)
    if produto.tenant_id != pedido.tenant_id:
        raise ProdutoIndisponivel()
    with transaction.atomic():
        pedido = carrinho_lock_open(pedido)
        produto = Produto.objects.get(pk=produto.pk)  # current price, stock and availability
        if not produto.ativo:
            raise ProdutoIndisponivel(produto=produto)
        item = ItemPedido.objects.filter(pedido=pedido, produto=produto).first()
        new_quantity = quantidade + (item.quantidade if item else 0)
        if new_quantity > maximum:
            raise ValidationError(
                _(
                    "Você já tem %(atual)s de %(nome)s no carrinho; o máximo por produto é "
                    "%(maximum)s."
                )
                % {"atual": item.quantidade, "nome": produto.nome, "maximum": maximum},
                code="quantidade_invalida",
            )
        if produto.estoque is not None and new_quantity > produto.estoque:
            raise EstoqueInsuficiente(produto=produto, disponivel=produto.estoque)
        if item is None:
            item = ItemPedido(tenant_id=pedido.tenant_id, pedido=pedido, produto=produto)
        item.quantidade = new_quantity
        item.preco_unitario = produto.preco
        item.save()
        _update_total(pedido)
    return item


def carrinho_remove_item(*, pedido: Pedido, produto: Produto) -> None:
    """Take a product out of the cart altogether."""
    with transaction.atomic():
        pedido = carrinho_lock_open(pedido)
        ItemPedido.objects.filter(pedido=pedido, produto_id=produto.pk).delete()
        _update_total(pedido)


# What the chat asked before confirming (pedidos.checkout), as a fresh cart has it.
CHECKOUT_BLANK: dict[str, Any] = {
    "modo_entrega": "",
    "endereco_entrega": "",
    "bairro": "",
    "latitude": None,
    "longitude": None,
    "forma_pagamento": "",
    "troco_para": None,
    "taxa_entrega": Decimal("0.00"),
    "observacoes": "",
}


def carrinho_empty(*, pedido: Pedido) -> None:
    """Remove every item and what the checkout asked; the (empty) cart stays open for the
    next order."""
    with transaction.atomic():
        pedido = carrinho_lock_open(pedido)
        ItemPedido.objects.filter(pedido=pedido).delete()
        for field, value in CHECKOUT_BLANK.items():
            setattr(pedido, field, value)
        pedido.save(update_fields=[*CHECKOUT_BLANK, "atualizado_em"])
        _update_total(pedido)


# --- Confirmation and stock --------------------------------------------------------------


def _take_stock_and_fix_prices(pedido: Pedido) -> None:
    """Copy the current prices into the items and take their stock, or raise (caller's
    transaction rolls everything back).

    Stock is taken with a conditional UPDATE (`estoque >= n`), so two confirmations racing
    for the last units cannot both succeed: PostgreSQL re-checks the condition on the row
    the first one committed. Products are updated in id order so two orders sharing
    products lock them in the same order and never deadlock.
    """
    itens = list(ItemPedido.objects.filter(pedido=pedido).order_by("produto_id"))
    if not itens:
        raise CarrinhoVazio()
    produtos = Produto.objects.in_bulk([item.produto_id for item in itens])
    for item in itens:
        produto = produtos[item.produto_id]
        if produto.tenant_id != pedido.tenant_id:  # pragma: no cover - guarded on the way in
            raise ProdutoIndisponivel()
        if not produto.ativo:
            raise ProdutoIndisponivel(produto=produto)
        if produto.estoque is not None:
            taken = Produto.objects.filter(pk=produto.pk, estoque__gte=item.quantidade).update(
                estoque=F("estoque") - item.quantidade
            )
            if not taken:
                produto.refresh_from_db(fields=["estoque"])
                if produto.estoque is not None:  # else: stopped being tracked meanwhile
                    raise EstoqueInsuficiente(produto=produto, disponivel=produto.estoque)
        item.preco_unitario = produto.preco
    ItemPedido.objects.bulk_update(itens, ["preco_unitario"])


def _return_stock(pedido: Pedido) -> None:
    for item in ItemPedido.objects.filter(pedido=pedido).order_by("produto_id"):
        Produto.objects.filter(pk=item.produto_id, estoque__isnull=False).update(
            estoque=F("estoque") + item.quantidade
        )


# What other apps do when an order is confirmed or moves along its statuses (the event
# webhooks: integrations.hooks), registered from their AppConfig.ready: pedidos sits below
# them in the layers and imports none of them.
_event_hooks: list[Callable[..., object]] = []


def pedido_event_hook_register(hook: Callable[..., object]) -> None:
    """Call `hook(kind="created"|"status", pedido=..., previous=...)` in the change's
    transaction: "created" when an order is confirmed, "status" for every later move."""
    if hook not in _event_hooks:
        _event_hooks.append(hook)


def _event(kind: str, pedido: Pedido, previous: str = "") -> None:
    for hook in _event_hooks:
        try:
            hook(kind=kind, pedido=pedido, previous=previous)
        except Exception:  # an integration's failure must never undo an order
            logger.exception("pedido event hook failed", extra={"pedido": pedido.pk})


def _confirm(pedido: Pedido) -> None:
    _take_stock_and_fix_prices(pedido)
    pedido.total = pedido_compute_total(pedido=pedido)
    pedido.status = StatusPedido.CONFIRMADO
    pedido.confirmado_em = timezone.now()
    pedido.save(update_fields=["total", "status", "confirmado_em", "atualizado_em"])
    _event("created", pedido)


def pedido_confirm(*, pedido: Pedido) -> Pedido:
    """The customer confirms their cart: prices frozen, stock taken, total computed.

    One transaction with the order row locked, so a double tap confirms once (the second
    gets PedidoFechado). Does not message the customer: the chat flow that called it
    answers with the order number itself. Returns the updated order (use it, not the
    instance passed in).
    """
    with transaction.atomic():
        locked = carrinho_lock_open(pedido)
        _confirm(locked)
    logger.info("pedido %s confirmed by the customer", locked.pk)
    return locked


def pedido_create(
    *,
    tenant: Tenant,
    cliente: Cliente,
    itens: Iterable[tuple[Produto, Any]],
    chatbot: Chatbot | None = None,
    observacoes: str = "",
    endereco_entrega: str = "",
    maximum: int = MAX_QUANTITY,
    **checkout: Any,
) -> Pedido:
    """A confirmed order straight from (produto, quantidade) pairs (API, WhatsApp catalog).

    The same product listed twice is summed. A product of another tenant is refused with
    the same words as a product that does not exist. `checkout` takes the other fields of
    CHECKOUT_BLANK (modo_entrega, bairro, forma_pagamento, troco_para, taxa_entrega...).
    """
    unknown = set(checkout) - set(CHECKOUT_BLANK)
    if unknown:
        raise TypeError(f"pedido_create got unknown fields {sorted(unknown)}")
    _check_same_tenant(tenant.pk, cliente, "cliente")
    _check_same_tenant(tenant.pk, chatbot, "chatbot")
    quantities: dict[int, int] = {}
    produtos: dict[int, Produto] = {}
    for produto, quantidade in itens:
        quantidade = quantidade_validate(quantidade, maximum=maximum)
        if produto.tenant_id != tenant.pk:
            raise ProdutoIndisponivel()
        produtos[produto.pk] = produto
        quantities[produto.pk] = quantities.get(produto.pk, 0) + quantidade
        if quantities[produto.pk] > maximum:
            raise QuantidadeInvalida(maximo=maximum)
    if not quantities:
        raise CarrinhoVazio()
    with transaction.atomic():
        pedido = Pedido.objects.create(
            tenant=tenant,
            cliente=cliente,
            chatbot=chatbot,
            status=StatusPedido.CONFIRMADO,
            observacoes=observacoes,
            endereco_entrega=endereco_entrega,
            **checkout,
        )
        ItemPedido.objects.bulk_create(
            ItemPedido(
                tenant=tenant,
                pedido=pedido,
                produto_id=pk,
                quantidade=quantidade,
                preco_unitario=produtos[pk].preco,
            )
            for pk, quantidade in quantities.items()
        )
        _confirm(pedido)
    return pedido


def pedido_create_from_whatsapp_order(
    *,
    tenant: Tenant,
    cliente: Cliente,
    chatbot: Chatbot | None,
    product_items: list[dict],
    observacoes: str = "",
) -> tuple[Pedido, list[str]]:
    """A cart sent from the WhatsApp catalog (`order` message) becomes a confirmed order.

    Items are matched by `product_retailer_id` (Meta's key; `retailer_id` also accepted)
    against the tenant's products; Meta's `item_price` is ignored, our price applies.
    Returns the order and what could not be included: the retailer id of an unknown item,
    the name of an inactive product. If nothing matches, raises ItensNaoEncontrados.
    """

    def rid(item: dict) -> str:
        return str(item.get("product_retailer_id") or item.get("retailer_id") or "").strip()

    catalog = {
        p.retailer_id: p
        for p in Produto.objects.filter(
            tenant=tenant, retailer_id__in=[rid(i) for i in product_items if rid(i)]
        )
    }
    itens: list[tuple[Produto, Any]] = []
    unknown: list[str] = []
    for item in product_items:
        produto = catalog.get(rid(item))
        if produto is None or not produto.ativo:
            name = produto.nome if produto is not None else (rid(item) or _("item sem código"))
            if name not in unknown:
                unknown.append(name)
            continue
        itens.append((produto, item.get("quantity", 1)))
    if not itens:
        raise ItensNaoEncontrados(desconhecidos=unknown)
    pedido = pedido_create(
        tenant=tenant, cliente=cliente, itens=itens, chatbot=chatbot, observacoes=observacoes
    )
    return pedido, unknown


# --- Status changes ----------------------------------------------------------------------


def pedido_change_status(*, pedido: Pedido, status: str, actor: Any = None) -> Pedido:
    """Move an order along pedidos.status's rules and tell the customer, once.

    rascunho → confirmado confirms the cart (prices, stock, total); cancelling an order
    that held stock gives it back. An illegal move raises TransicaoInvalida listing the
    allowed ones. The customer is told after commit (pedidos.notifications; a rolled-back
    change messages nobody); cancelling a mere cart messages nobody.
    Returns the updated order.
    """
    if not st.is_valid(status):
        raise StatusDesconhecido(status=status)
    with transaction.atomic():
        locked = Pedido.objects.select_for_update().get(pk=pedido.pk)
        previous = locked.status
        if not st.can_transition(previous, status):
            raise TransicaoInvalida(pedido=locked, atual=previous, desejado=status)
        if status == StatusPedido.CONFIRMADO:
            _confirm(locked)
        else:
            if status == StatusPedido.CANCELADO and previous in st.RESERVA_ESTOQUE:
                _return_stock(locked)
            locked.status = status
            locked.save(update_fields=["status", "atualizado_em"])
            if previous != StatusPedido.RASCUNHO:  # a cart never confirmed is no order yet
                _event("status", locked, previous)
        logger.info("pedido %s: %s -> %s by %s", locked.pk, previous, status, actor or "system")
        if previous != StatusPedido.RASCUNHO or status != StatusPedido.CANCELADO:
            transaction.on_commit(
                partial(notifications.pedido_notify_status, pedido_id=locked.pk, status=status),
                robust=True,
            )
    return locked


def pedido_cancel(*, pedido: Pedido, actor: Any = None) -> Pedido:
    """Cancel an order not yet delivered (stock goes back; the customer is told)."""
    return pedido_change_status(pedido=pedido, status=StatusPedido.CANCELADO, actor=actor)
