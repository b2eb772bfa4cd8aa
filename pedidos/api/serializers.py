"""API shapes. Serializers only translate: rules live in pedidos.services."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from billing.api.viewsets import TenantPrimaryKeyRelatedField
from chatbots.models import Chatbot
from clientes.models import Cliente
from pedidos import status as st
from pedidos.models import Categoria, ItemPedido, Pedido, Produto


class CategoriaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Categoria
        fields = ["id", "nome", "ordem", "ativo"]


class ProdutoSerializer(serializers.ModelSerializer):
    categoria = TenantPrimaryKeyRelatedField(queryset=Categoria.objects.all())
    preco = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"))

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
            "total",
            "observacoes",
            "endereco_entrega",
            "itens",
            "criado_em",
            "atualizado_em",
            "confirmado_em",
        ]
        read_only_fields = fields

    def get_status_label(self, pedido: Pedido) -> str:
        return st.label(pedido.status)


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


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.CharField(
        help_text="One of: " + ", ".join(s.value for s in st.StatusPedido)
    )
