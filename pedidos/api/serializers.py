"""API shapes. Serializers only translate: rules live in pedidos.services."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _
from rest_framework import serializers

from billing.api.viewsets import TenantPrimaryKeyRelatedField
from chatbots.models import Chatbot
from clientes.models import Cliente
from pedidos import checkout
from pedidos import status as st
from pedidos.models import (
    Categoria,
    ConfiguracaoPedidos,
    FormaPagamento,
    ItemPedido,
    ModoEntrega,
    Pedido,
    Produto,
    TaxaEntrega,
)


class SinonimosField(serializers.CharField):
    """A product's synonyms: "coca, coca cola" or ["coca", "coca cola"]; read as text."""

    def to_internal_value(self, data):
        if isinstance(data, list):
            if not all(isinstance(item, str) for item in data):
                raise serializers.ValidationError(
                    _("Informe os sinônimos como texto separado por vírgulas ou lista de textos.")
                )
            data = ", ".join(data)
        return super().to_internal_value(data)


class CategoriaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Categoria
        fields = ["id", "nome", "ordem", "ativo"]


class ProdutoSerializer(serializers.ModelSerializer):
    categoria = TenantPrimaryKeyRelatedField(queryset=Categoria.objects.all())
    preco = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"))
    sinonimos = SinonimosField(required=False, allow_blank=True, max_length=500)

    class Meta:
        model = Produto
        fields = [
            "id",
            "categoria",
            "nome",
            "descricao",
            "preco",
            "ativo",
            "estoque",
            "imagem_url",
            "retailer_id",
            "sinonimos",
            "criado_em",
            "atualizado_em",
        ]
        read_only_fields = ["id", "criado_em", "atualizado_em"]


class ItemPedidoSerializer(serializers.ModelSerializer):
    produto_nome = serializers.CharField(source="produto.nome", read_only=True)
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = ItemPedido
        fields = ["id", "produto", "produto_nome", "quantidade", "preco_unitario", "subtotal"]
        read_only_fields = fields


class PedidoSerializer(serializers.ModelSerializer):
    numero = serializers.IntegerField(read_only=True)
    status_label = serializers.SerializerMethodField()
    cliente_nome = serializers.CharField(source="cliente.nome", read_only=True)
    cliente_telefone = serializers.CharField(source="cliente.telefone", read_only=True)
    modo_entrega_label = serializers.CharField(source="get_modo_entrega_display", read_only=True)
    forma_pagamento_label = serializers.CharField(
        source="get_forma_pagamento_display", read_only=True
    )
    pix_copia_e_cola = serializers.SerializerMethodField(
        help_text="The Pix code for the total, when paid by Pix and the tenant has a Pix key."
    )
    itens = ItemPedidoSerializer(many=True, read_only=True)

    class Meta:
        model = Pedido
        fields = [
            "id",
            "numero",
            "cliente",
            "chatbot",
            "status",
            "status_label",
            "cliente_nome",
            "cliente_telefone",
            "total",
            "taxa_entrega",
            "modo_entrega",
            "modo_entrega_label",
            "endereco_entrega",
            "bairro",
            "latitude",
            "longitude",
            "forma_pagamento",
            "forma_pagamento_label",
            "troco_para",
            "pix_copia_e_cola",
            "observacoes",
            "itens",
            "criado_em",
            "atualizado_em",
            "confirmado_em",
        ]
        read_only_fields = fields

    def get_status_label(self, pedido: Pedido) -> str:
        return st.label(pedido.status)

    def get_pix_copia_e_cola(self, pedido: Pedido) -> str:
        if pedido.forma_pagamento != FormaPagamento.PIX:
            return ""
        # One settings read per tenant for a whole page of orders.
        cache = self.context.setdefault("_configuracoes", {})
        if pedido.tenant_id not in cache:
            cache[pedido.tenant_id] = checkout.configuracao_get(tenant=pedido.tenant)
        return checkout.pix_code(pedido=pedido, configuracao=cache[pedido.tenant_id])


class ItemEntradaSerializer(serializers.Serializer):
    # Another tenant's product is "not found", exactly like a product that does not exist.
    produto = TenantPrimaryKeyRelatedField(queryset=Produto.objects.all())
    quantidade = serializers.IntegerField()


class PedidoCreateSerializer(serializers.Serializer):
    """What a client sends to place an order. No prices or total: the server computes them."""

    cliente = TenantPrimaryKeyRelatedField(queryset=Cliente.objects.all())
    chatbot = TenantPrimaryKeyRelatedField(
        queryset=Chatbot.objects.all(), required=False, allow_null=True
    )
    itens = ItemEntradaSerializer(many=True, allow_empty=False)
    observacoes = serializers.CharField(required=False, allow_blank=True, default="")
    endereco_entrega = serializers.CharField(required=False, allow_blank=True, default="")
    modo_entrega = serializers.ChoiceField(
        choices=ModoEntrega.choices, required=False, allow_blank=True, default=""
    )
    bairro = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    forma_pagamento = serializers.ChoiceField(
        choices=FormaPagamento.choices, required=False, allow_blank=True, default=""
    )
    troco_para = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0"), required=False, allow_null=True
    )
    taxa_entrega = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        default=Decimal("0"),
    )


class ConfiguracaoPedidosSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConfiguracaoPedidos
        fields = [
            "id",
            "valor_minimo",
            "aceita_entrega",
            "aceita_retirada",
            "taxa_entrega_padrao",
            "endereco_loja",
            "horarios",
            "chave_pix",
            "pix_nome",
            "pix_cidade",
            "atualizado_em",
        ]
        read_only_fields = ["id", "atualizado_em"]


class TaxaEntregaSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxaEntrega
        fields = ["id", "bairro", "valor", "ativo"]
        read_only_fields = ["id"]


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.CharField(
        help_text="One of: " + ", ".join(s.value for s in st.StatusPedido)
    )
