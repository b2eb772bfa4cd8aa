"""LGPD endpoints under /api/compliance/: the audit log (read-only), export, erasure and
consent. Only the tenant's owners and admins (or its API keys) may use them, as in the
admin (billing.api.permissions)."""

from __future__ import annotations

import django_filters
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.filters import UtcIsoDateTimeFilter
from billing.api.permissions import MANAGERS, TenantRolePermission
from billing.api.viewsets import TenantScopedReadOnlyViewSet
from compliance import consent, erasure, export
from compliance.api.serializers import (
    AuditLogSerializer,
    ConsentRequestSerializer,
    ConsentStateSerializer,
    EraseRequestSerializer,
    EraseResultSerializer,
    ExportRequestSerializer,
)
from compliance.models import AuditLog, ConsentEvent
from compliance.selectors import identity_check, person_clientes


def _tenant(request):
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        raise exceptions.ValidationError(
            {"tenant": _("Indique a empresa com o cabeçalho X-Tenant.")}
        )
    return tenant


class AuditFilter(django_filters.FilterSet):
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    actor = django_filters.CharFilter(field_name="actor_label", lookup_expr="icontains")

    class Meta:
        model = AuditLog
        fields = ["action", "object_type", "object_id", "actor_type", "since", "until", "actor"]


class AuditPagination(CursorPagination):
    ordering = "-id"  # the log only grows: no COUNT(*), stable pages


class AuditLogViewSet(TenantScopedReadOnlyViewSet):
    """The tenant's audit log, newest first. Read-only: PUT, PATCH and DELETE answer 405.

    Filters: `action`, `object_type`, `object_id`, `actor_type`, `actor` (part of the
    label), `since` / `until` (ISO date-times).
    """

    queryset = AuditLog.objects.all()
    serializer_class = AuditLogSerializer
    # Owners and admins only, reads included, as in the admin: the log names who did what.
    required_roles = {"list": MANAGERS, "retrieve": MANAGERS, "metadata": MANAGERS}
    filterset_class = AuditFilter
    pagination_class = AuditPagination
    search_fields: list[str] = []
    ordering_fields: list[str] = []


class ExportView(APIView):
    """Everything the tenant holds on one person (LGPD art. 18, II): JSON, or a ZIP of CSVs
    with `"output": "zip"`. 404 when nothing is held."""

    permission_classes = [TenantRolePermission]
    required_roles = {"post": MANAGERS}
    role_operations = {"post": gettext_lazy("exportar os dados pessoais de um cliente (LGPD)")}

    @extend_schema(
        request=ExportRequestSerializer,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="JSON document or ZIP file"),
            404: OpenApiResponse(description="Nothing held on this person"),
        },
    )
    def post(self, request):
        tenant = _tenant(request)
        entrada = ExportRequestSerializer(data=request.data)
        entrada.is_valid(raise_exception=True)
        data = entrada.validated_data
        document = export.person_export(
            tenant=tenant,
            phone=data.get("phone", ""),
            whatsapp_user_id=data.get("whatsapp_user_id", ""),
            actor=request.user,
            output=data["output"],
        )
        if document is None:
            raise exceptions.NotFound(_("Nenhum dado desta pessoa nesta empresa."))
        if data["output"] == "zip":
            response = HttpResponse(export.export_zip(document), content_type="application/zip")
            response["Content-Disposition"] = 'attachment; filename="lgpd-export.zip"'
            return response
        return Response(document)


class EraseView(APIView):
    """Erase one person's data (LGPD art. 18, VI); orders and appointments stay, anonymous.
    Idempotent: a second call erases nothing (`erased: false`)."""

    permission_classes = [TenantRolePermission]
    required_roles = {"post": MANAGERS}
    role_operations = {"post": gettext_lazy("apagar os dados pessoais de um cliente (LGPD)")}

    @extend_schema(request=EraseRequestSerializer, responses={200: EraseResultSerializer})
    def post(self, request):
        tenant = _tenant(request)
        entrada = EraseRequestSerializer(data=request.data)
        entrada.is_valid(raise_exception=True)
        data = entrada.validated_data
        result = erasure.person_erase(
            tenant=tenant,
            phone=data.get("phone", ""),
            whatsapp_user_id=data.get("whatsapp_user_id", ""),
            actor=request.user,
        )
        return Response(
            EraseResultSerializer(
                {"erased": result.erased, "clientes": result.clientes, "counts": result.counts}
            ).data
        )


class ConsentView(APIView):
    """Opt a person out of (or back into) proactive messages; answers the state and history."""

    permission_classes = [TenantRolePermission]
    required_roles = {"post": MANAGERS}
    role_operations = {"post": gettext_lazy("mudar o consentimento de um cliente (LGPD)")}

    @extend_schema(
        request=ConsentRequestSerializer, responses={200: ConsentStateSerializer(many=True)}
    )
    def post(self, request):
        tenant = _tenant(request)
        entrada = ConsentRequestSerializer(data=request.data)
        entrada.is_valid(raise_exception=True)
        data = entrada.validated_data
        phone, user_id = identity_check(
            phone=data.get("phone", ""), whatsapp_user_id=data.get("whatsapp_user_id", "")
        )
        clientes = person_clientes(tenant_id=tenant.pk, phone=phone, whatsapp_user_id=user_id)
        if not clientes:
            raise exceptions.NotFound(_("Nenhum cliente com este telefone ou ID nesta empresa."))
        change = consent.consent_opt_out if data["opted_out"] else consent.consent_opt_in
        states = []
        for cliente in clientes:
            change(cliente=cliente, source=ConsentEvent.Source.API, actor=request.user)
            states.append(
                {
                    "cliente_id": cliente.pk,
                    "opted_out": cliente.optout_em is not None,
                    "optout_em": cliente.optout_em,
                    "history": consent.consent_history(cliente=cliente),
                }
            )
        return Response(ConsentStateSerializer(states, many=True).data, status=status.HTTP_200_OK)
