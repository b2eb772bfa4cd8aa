"""/api/pedidos/: catalog CRUD and orders. Views translate; pedidos.services decides."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework import status as http
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.api.permissions import MEMBERS
from billing.api.viewsets import TenantScopedViewSet
from pedidos import checkout, selectors, services
from pedidos.api.serializers import (
    CategoriaSerializer,
    ConfiguracaoPedidosSerializer,
    PedidoCreateSerializer,
    PedidoSerializer,
    ProdutoSerializer,
    StatusChangeSerializer,
    TaxaEntregaSerializer,
)
from pedidos.models import (
    Categoria,
    ConfiguracaoPedidos,
    FormaPagamento,
    ModoEntrega,
    Pedido,
    Produto,
    TaxaEntrega,
)
from pedidos.status import StatusPedido


class CategoriaViewSet(TenantScopedViewSet):
    queryset = Categoria.objects.all()
    serializer_class = CategoriaSerializer
    filterset_fields = ["ativo"]
    search_fields = ["nome"]
    ordering_fields = ["ordem", "nome"]

    def perform_create(self, serializer):
        serializer.instance = services.categoria_create(
            tenant=self.require_tenant(), **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.categoria_update(
            categoria=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.categoria_delete(categoria=instance)


# Related ids are filtered as plain numbers: a choice filter would answer 400 for an id
# that does not exist but 200 (empty) for another tenant's, telling the two apart.
class ProdutoFilter(django_filters.FilterSet):
    categoria = django_filters.NumberFilter(field_name="categoria_id")

    class Meta:
        model = Produto
        fields = ["categoria", "ativo", "retailer_id"]


class ProdutoViewSet(TenantScopedViewSet):
    queryset = Produto.objects.select_related("categoria")
    serializer_class = ProdutoSerializer
    filterset_class = ProdutoFilter
    search_fields = ["nome", "sinonimos"]
    ordering_fields = ["nome", "preco", "criado_em"]

    def perform_create(self, serializer):
        serializer.instance = services.produto_create(
            tenant=self.require_tenant(), **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.produto_update(
            produto=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.produto_delete(produto=instance)


class PedidoFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=StatusPedido.choices)
    modo_entrega = django_filters.ChoiceFilter(choices=ModoEntrega.choices)
    forma_pagamento = django_filters.ChoiceFilter(choices=FormaPagamento.choices)
    bairro = django_filters.CharFilter(lookup_expr="iexact")
    cliente = django_filters.NumberFilter(field_name="cliente_id")
    chatbot = django_filters.NumberFilter(field_name="chatbot_id")
    criado_de = django_filters.DateFilter(
        field_name="criado_em", lookup_expr="date__gte", label=_("criado a partir de")
    )
    criado_ate = django_filters.DateFilter(
        field_name="criado_em", lookup_expr="date__lte", label=_("criado até")
    )

    class Meta:
        model = Pedido
        fields = [
            "status",
            "cliente",
            "chatbot",
            "criado_de",
            "criado_ate",
            "modo_entrega",
            "forma_pagamento",
            "bairro",
        ]


# Service errors about the items, answered under "itens" like the serializer's own.
ITEM_ERRORS = (
    services.QuantidadeInvalida,
    services.EstoqueInsuficiente,
    services.ProdutoIndisponivel,
    services.CarrinhoVazio,
)


class PedidoViewSet(TenantScopedViewSet):
    """Orders. Created confirmed with their items; afterwards they change only through
    `POST {id}/status/`, which applies the transition rules and tells the customer.

    Attendants move orders along (preparing, out for delivery, cancelled…); placing an
    order through the API is for owners, admins and integrations."""

    queryset = selectors.pedido_list(tenant=None)
    serializer_class = PedidoSerializer
    filterset_class = PedidoFilter
    search_fields = ["cliente__nome", "cliente__telefone", "bairro", "endereco_entrega"]
    ordering_fields = ["criado_em", "total", "status"]
    # No PUT/PATCH/DELETE: a placed order is history; it moves only by status.
    http_method_names = ["get", "post", "head", "options"]
    required_roles = {"mudar_status": MEMBERS}

    def get_serializer_class(self):
        if self.action == "create":
            return PedidoCreateSerializer
        if self.action == "mudar_status":
            return StatusChangeSerializer
        return PedidoSerializer

    @extend_schema(request=PedidoCreateSerializer, responses={201: PedidoSerializer})
    def create(self, request, *args, **kwargs):
        tenant = self.require_tenant()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            pedido = services.pedido_create(
                tenant=tenant,
                cliente=data["cliente"],
                chatbot=data.get("chatbot"),
                itens=[(i["produto"], i["quantidade"]) for i in data["itens"]],
                observacoes=data.get("observacoes", ""),
                endereco_entrega=data.get("endereco_entrega", ""),
                modo_entrega=data.get("modo_entrega", ""),
                bairro=data.get("bairro", ""),
                forma_pagamento=data.get("forma_pagamento", ""),
                troco_para=data.get("troco_para"),
                taxa_entrega=data.get("taxa_entrega") or 0,
            )
        except ITEM_ERRORS as exc:
            raise exceptions.ValidationError({"itens": exc.messages}) from exc
        pedido = self.get_queryset().get(pk=pedido.pk)
        return Response(PedidoSerializer(pedido).data, status=http.HTTP_201_CREATED)

    @extend_schema(request=StatusChangeSerializer, responses={200: PedidoSerializer})
    @action(detail=True, methods=["post"], url_path="status", url_name="status")
    def mudar_status(self, request, pk=None):
        pedido = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.pedido_change_status(
                pedido=pedido, status=serializer.validated_data["status"], actor=request.user
            )
        except (services.TransicaoInvalida, services.StatusDesconhecido) as exc:
            return Response(
                {"status": exc.messages, "permitidos": exc.permitidos},
                status=http.HTTP_400_BAD_REQUEST,
            )
        return Response(PedidoSerializer(self.get_queryset().get(pk=pedido.pk)).data)


class ConfiguracaoPedidosViewSet(TenantScopedViewSet):
    """How the tenant takes orders in the chat: one per tenant (create it once, then
    PATCH it). Errors name the field: hours that do not parse, a Pix key that is not one."""

    queryset = ConfiguracaoPedidos.objects.all()
    serializer_class = ConfiguracaoPedidosSerializer
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def perform_create(self, serializer):
        tenant = self.require_tenant()
        if ConfiguracaoPedidos.objects.filter(tenant=tenant).exists():
            raise exceptions.ValidationError(
                {
                    "tenant": _(
                        "Esta empresa já tem uma configuração de pedidos: altere-a com PATCH "
                        "/api/pedidos/configuracao/<id>/."
                    )
                }
            )
        serializer.instance = checkout.configuracao_save(tenant=tenant, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = checkout.configuracao_save(
            tenant=serializer.instance.tenant, **serializer.validated_data
        )


class TaxaEntregaViewSet(TenantScopedViewSet):
    """The delivery fee of each neighbourhood (bairro)."""

    queryset = TaxaEntrega.objects.all()
    serializer_class = TaxaEntregaSerializer
    filterset_fields = ["ativo"]
    search_fields = ["bairro"]
    ordering_fields = ["bairro", "valor"]

    def perform_create(self, serializer):
        serializer.instance = checkout.taxa_entrega_create(
            tenant=self.require_tenant(), **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = checkout.taxa_entrega_update(
            taxa=serializer.instance, **serializer.validated_data
        )
