from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.admin_tenancy import TenantScopedAdmin, TenantScopedInline
from pedidos import services
from pedidos import status as st
from pedidos.models import (
    Categoria,
    ConfiguracaoPedidos,
    ItemPedido,
    Pedido,
    Produto,
    TaxaEntrega,
)
from pedidos.money import format_brl
from pedidos.status import StatusPedido


@admin.register(Categoria)
class CategoriaAdmin(TenantScopedAdmin):
    list_display = ["nome", "ordem", "ativo", "tenant"]
    list_editable = ["ordem", "ativo"]
    list_filter = ["ativo"]
    search_fields = ["nome"]
    ordering = ["ordem", "nome"]
    list_select_related = ["tenant"]


@admin.register(Produto)
class ProdutoAdmin(TenantScopedAdmin):
    list_display = ["nome", "categoria", "preco", "ativo", "estoque", "tenant"]
    list_editable = ["preco", "ativo"]
    # RelatedOnlyFieldListFilter: only categories of rows the user can see (a plain
    # related filter would list every tenant's categories).
    list_filter = [("categoria", admin.RelatedOnlyFieldListFilter), "ativo"]
    search_fields = ["nome", "retailer_id", "sinonimos"]
    list_select_related = ["categoria", "tenant"]
    readonly_fields = ["criado_em", "atualizado_em"]


class ItemPedidoForm(forms.ModelForm):
    class Meta:
        model = ItemPedido
        fields = ["produto", "quantidade"]

    def clean_produto(self):
        # The product choices span all of the user's tenants; the order's tenant decides.
        produto = self.cleaned_data.get("produto")
        try:
            tenant_id = self.instance.pedido.tenant_id
        except Pedido.DoesNotExist:
            tenant_id = None
        if produto is not None and tenant_id and produto.tenant_id != tenant_id:
            raise ValidationError(_("Este produto pertence a outra empresa."))
        return produto


class ItemPedidoInline(TenantScopedInline, admin.TabularInline):
    model = ItemPedido
    form = ItemPedidoForm
    fields = ["produto", "quantidade", "preco_unitario", "subtotal_reais"]
    readonly_fields = ["preco_unitario", "subtotal_reais"]
    autocomplete_fields = ["produto"]
    extra = 0

    @admin.display(description=gettext_lazy("subtotal"))
    def subtotal_reais(self, item: ItemPedido) -> str:
        return format_brl(item.subtotal) if item.pk else "-"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("produto")

    # A placed order is history: its items change only while it is a cart.
    def _aberto(self, obj) -> bool:
        return obj is None or obj.status == StatusPedido.RASCUNHO

    def has_add_permission(self, request, obj=None):
        return self._aberto(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._aberto(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._aberto(obj) and super().has_delete_permission(request, obj)


def _acao_status(target: str):
    def acao(modeladmin, request, queryset):
        movidos = 0
        for pedido in queryset:
            if not modeladmin.has_status_permission(request, pedido):
                modeladmin.message_user(
                    request,
                    _("Sem permissão para alterar o pedido nº %(n)s.") % {"n": pedido.numero},
                    messages.ERROR,
                )
                continue
            try:
                services.pedido_change_status(pedido=pedido, status=target, actor=request.user)
            except ValidationError as exc:
                modeladmin.message_user(request, exc.messages[0], messages.ERROR)
            else:
                movidos += 1
        if movidos:
            modeladmin.message_user(
                request,
                _("%(n)s pedido(s) agora em “%(status)s”.")
                % {"n": movidos, "status": st.label(target)},
                messages.SUCCESS,
            )

    acao.__name__ = f"marcar_{target}"
    acao.short_description = format_lazy(
        gettext_lazy("Mudar para “{status}”"), status=StatusPedido(target).label
    )
    acao.allowed_permissions = ("status",)
    return acao


@admin.register(Pedido)
class PedidoAdmin(TenantScopedAdmin):
    list_display = [
        "numero_pedido",
        "cliente",
        "status",
        "total_reais",
        "modo_entrega",
        "forma_pagamento",
        "criado_em",
    ]  # seven columns fit a laptop screen; the address and the bot are on the order's page
    list_filter = [
        "status",
        "modo_entrega",
        "forma_pagamento",
        ("chatbot", admin.RelatedOnlyFieldListFilter),
    ]
    date_hierarchy = "criado_em"
    search_fields = ["=id", "cliente__nome", "cliente__telefone", "bairro", "endereco_entrega"]
    list_select_related = ["cliente", "chatbot", "tenant"]
    raw_id_fields = ["cliente"]
    inlines = [ItemPedidoInline]
    readonly_fields = [
        "status",
        "total_reais",
        "taxa_entrega_reais",
        "criado_em",
        "atualizado_em",
        "confirmado_em",
        "lembrado_em",
    ]
    fields = [
        "tenant",
        "cliente",
        "chatbot",
        "status",
        "total_reais",
        "modo_entrega",
        "endereco_entrega",
        "bairro",
        "latitude",
        "longitude",
        "taxa_entrega_reais",
        "forma_pagamento",
        "troco_para",
        "observacoes",
        "criado_em",
        "atualizado_em",
        "confirmado_em",
        "lembrado_em",
    ]
    # Status moves only through the service (rules, stock, customer notice): one action each.
    actions = [_acao_status(s) for s in StatusPedido if s != StatusPedido.RASCUNHO]

    @admin.display(description=gettext_lazy("nº"), ordering="id")
    def numero_pedido(self, pedido: Pedido) -> int:
        return pedido.numero

    @admin.display(description=gettext_lazy("total"), ordering="total")
    def total_reais(self, pedido: Pedido) -> str:
        return format_brl(pedido.total)

    @admin.display(description=gettext_lazy("taxa de entrega"))
    def taxa_entrega_reais(self, pedido: Pedido) -> str:
        return format_brl(pedido.taxa_entrega)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status != StatusPedido.RASCUNHO:
            fields += ["tenant", "cliente", "chatbot"]
        return fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would delete placed orders too
        return actions

    def has_status_permission(self, request, obj=None):
        """Moving an order along (em preparo, saiu para entrega...) is an attendant's work, as
        in the API: every member of the order's tenant may; editing it stays with owners and
        admins."""
        return self.has_view_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Placed orders are cancelled, never deleted; carts may be dropped.
        if obj is not None and obj.status != StatusPedido.RASCUNHO:
            return False
        return super().has_delete_permission(request, obj)

    def save_formset(self, request, form, formset, change):
        # Items of a cart built in the admin: the order's tenant and the current price,
        # then the total recomputed by the service (never typed in).
        pedido = form.instance
        for item in formset.save(commit=False):
            item.tenant_id = pedido.tenant_id
            item.preco_unitario = item.produto.preco
            item.save()
        for item in formset.deleted_objects:
            item.delete()
        pedido.total = services.pedido_compute_total(pedido=pedido)
        pedido.save(update_fields=["total", "atualizado_em"])


@admin.register(ConfiguracaoPedidos)
class ConfiguracaoPedidosAdmin(TenantScopedAdmin):
    list_display = ["tenant", "valor_minimo", "aceita_entrega", "aceita_retirada", "atualizado_em"]
    list_select_related = ["tenant"]
    fieldsets = [
        (None, {"fields": ["tenant", "valor_minimo", "horarios"]}),
        (
            gettext_lazy("Entrega e retirada"),
            {
                "fields": [
                    "aceita_entrega",
                    "aceita_retirada",
                    "taxa_entrega_padrao",
                    "endereco_loja",
                ]
            },
        ),
        (gettext_lazy("Pix"), {"fields": ["chave_pix", "pix_nome", "pix_cidade"]}),
    ]


@admin.register(TaxaEntrega)
class TaxaEntregaAdmin(TenantScopedAdmin):
    list_display = ["bairro", "valor", "ativo", "tenant"]
    list_editable = ["valor", "ativo"]
    list_filter = ["ativo"]
    search_fields = ["bairro"]
    list_select_related = ["tenant"]
