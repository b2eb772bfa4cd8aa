"""Catalog and orders: categories, products, orders and their items.

A customer's open cart is a `Pedido` in status `rascunho` (one per tenant, customer and
bot), so it survives across messages and workers and the customer can resume it. Writes go
through pedidos.services; statuses and their moves live in pedidos.status.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned
from chatbots.models import Chatbot
from clientes.models import Cliente
from pedidos.status import StatusPedido


class Categoria(TenantOwned):
    nome = models.CharField(_("nome"), max_length=100)
    ordem = models.PositiveIntegerField(
        _("ordem"), default=0, help_text=_("Menor aparece primeiro no cardápio.")
    )
    ativo = models.BooleanField(_("ativo"), default=True)

    class Meta:
        verbose_name = _("categoria")
        verbose_name_plural = _("categorias")
        ordering = ["ordem", "nome", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "nome"], name="categoria_unique_tenant_nome")
        ]

    def __str__(self) -> str:
        return self.nome


class Produto(TenantOwned):
    categoria = models.ForeignKey(
        Categoria,
        on_delete=models.PROTECT,
        related_name="produtos",
        verbose_name=_("categoria"),
    )
    nome = models.CharField(_("nome"), max_length=200)
    descricao = models.TextField(_("descrição"), blank=True)
    preco = models.DecimalField(
        _("preço"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    ativo = models.BooleanField(_("ativo"), default=True)
    estoque = models.PositiveIntegerField(
        _("estoque"),
        null=True,
        blank=True,
        help_text=_("Deixe em branco para não controlar estoque."),
    )
    imagem_url = models.URLField(_("URL da imagem"), max_length=500, blank=True)
    # The product's id in the business's Meta catalog: WhatsApp carts (`order` messages)
    # name their items by it.
    retailer_id = models.CharField(
        _("ID no catálogo da Meta (retailer id)"), max_length=100, blank=True
    )
    criado_em = models.DateTimeField(_("criado em"), auto_now_add=True)
    atualizado_em = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("produto")
        verbose_name_plural = _("produtos")
        ordering = ["categoria__ordem", "nome", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "retailer_id"],
                condition=~Q(retailer_id=""),
                name="produto_unique_tenant_retailer_id",
                violation_error_message=_("Já existe um produto com este ID no catálogo da Meta."),
            ),
        ]
        indexes = [models.Index(fields=["tenant", "categoria", "ativo"])]

    def __str__(self) -> str:
        return self.nome


class Pedido(TenantOwned):
    cliente = models.ForeignKey(
        Cliente, on_delete=models.CASCADE, related_name="pedidos", verbose_name=_("cliente")
    )
    chatbot = models.ForeignKey(
        Chatbot,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="pedidos",
        verbose_name=_("chatbot"),
        help_text=_("O número de WhatsApp pelo qual o pedido chegou."),
    )
    status = models.CharField(
        _("situação"),
        max_length=20,
        choices=StatusPedido.choices,
        default=StatusPedido.RASCUNHO,
    )
    # Always computed by pedidos.services.pedido_compute_total, never taken from input.
    total = models.DecimalField(
        _("total"), max_digits=12, decimal_places=2, default=Decimal("0.00"), editable=False
    )
    observacoes = models.TextField(_("observações"), blank=True)
    endereco_entrega = models.TextField(_("endereço de entrega"), blank=True)
    criado_em = models.DateTimeField(_("criado em"), auto_now_add=True)
    atualizado_em = models.DateTimeField(_("atualizado em"), auto_now=True)
    confirmado_em = models.DateTimeField(_("confirmado em"), null=True, blank=True)
    # When the customer was reminded of this abandoned cart (once per cart).
    lembrado_em = models.DateTimeField(_("lembrete enviado em"), null=True, blank=True)

    class Meta:
        verbose_name = _("pedido")
        verbose_name_plural = _("pedidos")
        ordering = ["-criado_em", "-id"]
        constraints = [
            # One open cart per customer and bot. Two partial constraints instead of
            # nulls_distinct=False, which SQLite (the embedded default) does not support.
            models.UniqueConstraint(
                fields=["tenant", "cliente", "chatbot"],
                condition=Q(status=StatusPedido.RASCUNHO, chatbot__isnull=False),
                name="pedido_um_carrinho_por_cliente_bot",
            ),
            models.UniqueConstraint(
                fields=["tenant", "cliente"],
                condition=Q(status=StatusPedido.RASCUNHO, chatbot__isnull=True),
                name="pedido_um_carrinho_por_cliente_sem_bot",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-criado_em"]),
            models.Index(fields=["tenant", "cliente", "-criado_em"]),
            # The stale-cart job scans open carts only.
            models.Index(
                fields=["atualizado_em"],
                condition=Q(status=StatusPedido.RASCUNHO),
                name="pedido_carrinho_aberto_idx",
            ),
        ]

    def __str__(self) -> str:
        return _("Pedido nº %(numero)s") % {"numero": self.numero}

    @property
    def numero(self) -> int | None:
        """The number the customer and staff quote (the primary key)."""
        return self.pk


class ItemPedido(TenantOwned):
    """One product line. `tenant` is the order's, denormalized for scoping and erasure."""

    pedido = models.ForeignKey(
        Pedido, on_delete=models.CASCADE, related_name="itens", verbose_name=_("pedido")
    )
    produto = models.ForeignKey(
        Produto, on_delete=models.PROTECT, related_name="itens_pedido", verbose_name=_("produto")
    )
    quantidade = models.PositiveIntegerField(_("quantidade"), validators=[MinValueValidator(1)])
    # The price when added to the cart, refreshed at confirmation and frozen from then on:
    # later price changes never touch a confirmed order.
    preco_unitario = models.DecimalField(_("preço unitário"), max_digits=10, decimal_places=2)

    class Meta:
        verbose_name = _("item do pedido")
        verbose_name_plural = _("itens do pedido")
        ordering = ["pedido", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "pedido", "produto"], name="itempedido_unique_produto"
            ),
            models.CheckConstraint(condition=Q(quantidade__gte=1), name="itempedido_quantidade_1"),
        ]

    def __str__(self) -> str:
        return f"{self.quantidade} × {self.produto}"

    @property
    def subtotal(self) -> Decimal:
        return self.quantidade * self.preco_unitario
