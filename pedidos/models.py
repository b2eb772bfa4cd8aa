"""Catalog and orders: categories, products, orders and their items, and how a tenant
takes orders (minimum value, opening hours, delivery fees by neighbourhood, Pix key).

A customer's open cart is a `Pedido` in status `rascunho` (one per tenant, customer and
bot), so it survives across messages and workers and the customer can resume it; what the
chat asks before confirming (delivery or pickup, address, payment, notes) is stored on it
as it is answered. Writes go through pedidos.services and pedidos.checkout; statuses and
their moves live in pedidos.status.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models import TenantOwned
from chatbots.models import Chatbot
from clientes.models import Cliente
from pedidos import hours, pix
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
    # Other names customers type for the product ("coca" for "Coca-Cola 2L"): the chat's
    # matching (chatbots.text) tries them like the name.
    sinonimos = models.CharField(
        _("sinônimos"),
        max_length=500,
        blank=True,
        help_text=_(
            "Outros nomes pelos quais o cliente pede o produto, separados por vírgula "
            "(ex.: coca, coca cola, refri)."
        ),
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

    @property
    def sinonimos_lista(self) -> list[str]:
        return [s.strip() for s in self.sinonimos.split(",") if s.strip()]


class ModoEntrega(models.TextChoices):
    ENTREGA = "entrega", _("Entrega")
    RETIRADA = "retirada", _("Retirada no local")


class FormaPagamento(models.TextChoices):
    PIX = "pix", _("Pix")
    CARTAO = "cartao", _("Cartão na entrega")
    DINHEIRO = "dinheiro", _("Dinheiro")


def _money(verbose: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(
        verbose,
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        **kwargs,
    )


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
    modo_entrega = models.CharField(
        _("entrega ou retirada"), max_length=10, choices=ModoEntrega.choices, blank=True
    )
    endereco_entrega = models.TextField(_("endereço de entrega"), blank=True)
    bairro = models.CharField(_("bairro"), max_length=100, blank=True)
    # A WhatsApp location message, when the customer sent one for the address.
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    forma_pagamento = models.CharField(
        _("forma de pagamento"), max_length=10, choices=FormaPagamento.choices, blank=True
    )
    troco_para = _money(
        _("troco para"), null=True, blank=True, help_text=_("Pagamento em dinheiro.")
    )
    # The neighbourhood's fee (TaxaEntrega) when the order was confirmed; part of `total`.
    taxa_entrega = _money(_("taxa de entrega"), default=Decimal("0.00"), editable=False)
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


# --- How the tenant takes orders -----------------------------------------------------------


class ConfiguracaoPedidos(TenantOwned):
    """How a tenant takes orders in the chat. A tenant without one takes delivery and
    pickup, any time, with no minimum, no fee and no Pix (pedidos.checkout.DEFAULTS)."""

    valor_minimo = _money(
        _("pedido mínimo"),
        default=Decimal("0.00"),
        help_text=_("Valor mínimo dos itens (sem a taxa de entrega). 0: sem mínimo."),
    )
    aceita_entrega = models.BooleanField(_("faz entrega"), default=True)
    aceita_retirada = models.BooleanField(_("aceita retirada no local"), default=True)
    taxa_entrega_padrao = _money(
        _("taxa de entrega padrão"),
        null=True,
        blank=True,
        help_text=_(
            "Para bairros fora da lista de taxas. Em branco: só entregamos nos bairros da "
            "lista (sem lista, a entrega é grátis em qualquer bairro)."
        ),
    )
    endereco_loja = models.TextField(
        _("endereço da loja"),
        blank=True,
        help_text=_("Dito a quem vai retirar e a quem pergunta o endereço."),
    )
    horarios = models.JSONField(
        _("horários de funcionamento"),
        default=dict,
        blank=True,
        help_text=_(
            'Por dia da semana (seg, ter, qua, qui, sex, sab, dom), ex.: {"ter": "18:00-23:00", '
            '"sab": "11:00-15:00, 18:00-02:00"}. Dia ausente: fechado. Vazio: sempre aberto.'
        ),
    )
    chave_pix = models.CharField(
        _("chave Pix"),
        max_length=77,  # the longest key type, an e-mail, is 77 characters (BCB)
        blank=True,
        help_text=_(
            "CPF, CNPJ, e-mail, celular (+5511...) ou chave aleatória. Com ela, o cliente "
            "pode pagar por Pix e recebe o código copia e cola com o valor do pedido."
        ),
    )
    pix_nome = models.CharField(
        _("nome do recebedor (Pix)"),
        max_length=25,  # BR Code field 59 (Banco Central's manual)
        blank=True,
        help_text=_("Em branco: o nome da empresa."),
    )
    pix_cidade = models.CharField(
        _("cidade do recebedor (Pix)"),
        max_length=15,  # BR Code field 60
        blank=True,
        help_text=_("Obrigatória com chave Pix, ex.: SAO PAULO."),
    )
    atualizado_em = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("configuração de pedidos")
        verbose_name_plural = _("configurações de pedidos")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                name="configuracaopedidos_unique_tenant",
                violation_error_message=_(
                    "Esta empresa já tem uma configuração de pedidos: altere a existente."
                ),
            )
        ]

    def __str__(self) -> str:
        return str(_("Configuração de pedidos"))

    def clean(self) -> None:
        # full_clean (pedidos.services, the admin's form) runs this: every field's problem
        # at once, in words the business can act on.
        errors: dict[str, list[str]] = {}
        try:
            self.horarios = hours.schedule_clean(self.horarios)
        except ValidationError as exc:
            errors["horarios"] = exc.messages
        if self.chave_pix.strip():
            try:
                self.chave_pix = pix.key_clean(self.chave_pix)
            except ValidationError as exc:
                errors["chave_pix"] = exc.messages
            if not self.pix_cidade.strip():
                errors["pix_cidade"] = [_("Informe a cidade: o código Pix precisa dela.")]
        if not (self.aceita_entrega or self.aceita_retirada):
            errors["aceita_entrega"] = [_("Aceite entrega, retirada ou os dois.")]
        if errors:
            raise ValidationError(errors)


class TaxaEntrega(TenantOwned):
    """The delivery fee of one neighbourhood (bairro)."""

    bairro = models.CharField(_("bairro"), max_length=100)
    valor = _money(_("taxa"))
    ativo = models.BooleanField(_("ativo"), default=True)

    class Meta:
        verbose_name = _("taxa de entrega")
        verbose_name_plural = _("taxas de entrega")
        ordering = ["bairro", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "bairro"],
                name="taxaentrega_unique_tenant_bairro",
                violation_error_message=_("Este bairro já tem uma taxa de entrega."),
            )
        ]

    def __str__(self) -> str:
        return self.bairro
