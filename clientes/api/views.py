import django_filters
from django.db import connection

from billing.api.permissions import MEMBERS
from billing.api.viewsets import TenantScopedViewSet
from clientes import services
from clientes.api.serializers import ClienteSerializer
from clientes.models import Cliente
from clientes.phones import InvalidPhone, phone_variants


class ClienteFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(method="filter_tag", label="etiqueta")
    telefone = django_filters.CharFilter(method="filter_telefone", label="telefone")

    class Meta:
        model = Cliente
        fields = ["tag", "telefone"]

    def filter_tag(self, qs, name, value):
        if connection.vendor == "postgresql":
            return qs.filter(tags__contains=[value])
        # SQLite (embedded mode) has no JSON containment; match the quoted element instead.
        return qs.filter(tags__icontains=f'"{value}"')

    def filter_telefone(self, qs, name, value):
        try:
            return qs.filter(telefone__in=phone_variants(value))
        except InvalidPhone:
            return qs.none()


class ClienteViewSet(TenantScopedViewSet):
    """The tenant's customers. Phone numbers are normalized to digits with country code.

    Attendants edit a customer's name, phone and tags (all this serializer writes), as in
    the admin; creating and deleting customers is for owners and admins.
    """

    queryset = Cliente.objects.all()
    serializer_class = ClienteSerializer
    filterset_class = ClienteFilter
    search_fields = ["nome", "telefone"]
    ordering_fields = ["nome", "criado_em"]
    required_roles = {"update": MEMBERS, "partial_update": MEMBERS}

    def perform_create(self, serializer):
        serializer.instance = services.cliente_create(
            tenant=self.require_tenant(), **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.cliente_update(
            cliente=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.cliente_delete(cliente=instance)
