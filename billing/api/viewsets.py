"""A viewset base that gives every tenant-owned resource isolation for free.

Querysets are filtered by `request.tenant`; creation stamps it; serializers get it in
their context so related fields only accept the tenant's own rows. A row of another tenant
is simply not found (404), never forbidden (403), so its existence does not leak.

Roles come with it too (billing.api.permissions): every member reads, writes need an owner
or admin unless the subclass lists the action in `required_roles`, e.g.
`required_roles = {"mudar_status": MEMBERS}` for what attendants do in their work.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, viewsets

from billing.api.permissions import TenantRolePermission
from compliance.audit import AuditedViewSetMixin


class TenantScopedViewSet(AuditedViewSetMixin, viewsets.ModelViewSet):
    """Every successful write through a subclass is written to the audit log
    (compliance.audit.AuditedViewSetMixin), whichever methods the subclass overrides."""

    # Stated here rather than left to the settings' default, so that no subclass is ever
    # without the role check.
    permission_classes = [TenantRolePermission]
    required_roles: Mapping[str, frozenset[str]] = {}

    def get_queryset(self):
        qs = super().get_queryset()
        tenant = getattr(self.request, "tenant", None)
        if tenant is None:
            if getattr(self.request.user, "is_superuser", False):
                return qs
            return qs.none()
        return qs.filter(tenant=tenant)

    def require_tenant(self):
        tenant = getattr(self.request, "tenant", None)
        if tenant is None:
            raise exceptions.ValidationError(
                {"tenant": _("Indique a empresa com o cabeçalho X-Tenant para gravar dados.")}
            )
        return tenant

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["tenant"] = getattr(self.request, "tenant", None)
        return context


class TenantScopedReadOnlyViewSet(TenantScopedViewSet, viewsets.ReadOnlyModelViewSet):
    http_method_names = ["get", "head", "options"]


class TenantPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related field whose choices are the request tenant's rows only."""

    def get_queryset(self):
        qs = super().get_queryset()
        tenant = self.context.get("tenant")
        if tenant is None:
            return qs.none()
        return qs.filter(tenant=tenant)
