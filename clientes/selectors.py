from __future__ import annotations

from django.db.models import QuerySet

from billing.models import Tenant
from clientes.models import Cliente
from clientes.phones import InvalidPhone, phone_variants


def cliente_find_by_phone(*, tenant: Tenant, telefone: str) -> Cliente | None:
    try:
        variants = phone_variants(telefone)
    except InvalidPhone:
        return None
    return Cliente.objects.filter(tenant=tenant, telefone__in=variants).first()


def cliente_list(*, tenant: Tenant) -> QuerySet[Cliente]:
    return Cliente.objects.filter(tenant=tenant)
