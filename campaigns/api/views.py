"""REST views of campaigns, under /api/campaigns/: thin and tenant-scoped; campaigns.services
decides. Owners and admins create and run campaigns and import contacts; every member reads
them. Every member schedules a message to one customer (attendants do it from the inbox)
and may cancel it until it is sent."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from billing.api.permissions import MANAGERS, MEMBERS
from billing.api.viewsets import TenantScopedViewSet
from campaigns import imports, previews, scheduled, services, stats
from campaigns.api.serializers import (
    AudienceSerializer,
    CampaignCreateSerializer,
    CampaignListSerializer,
    CampaignSerializer,
    ContactImportSerializer,
    ScheduledMessageSerializer,
)
from campaigns.audience import audience_count
from campaigns.models import Campaign, ContactImport, ScheduledMessage

ERROR_BODY = inline_serializer("CampaignError", {"detail": serializers.CharField()})
COUNT_BODY = inline_serializer("AudienceCount", {"customers": serializers.IntegerField()})
OK_BODY = inline_serializer("CampaignChanged", {"changed": serializers.BooleanField()})


def _refused(exc: Exception) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


def _actor(request) -> str:
    user = request.user
    return getattr(user, "get_username", lambda: str(user))()


class CampaignViewSet(TenantScopedViewSet):
    """Campaigns: create a draft, see its numbers, start, pause, resume, cancel, retry."""

    queryset = Campaign.objects.select_related("chatbot").prefetch_related("variants__template")
    serializer_class = CampaignSerializer
    http_method_names = ["get", "post", "head", "options"]
    lookup_value_regex = r"\d+"
    required_roles = {
        "create": MANAGERS,
        "start": MANAGERS,
        "pause": MANAGERS,
        "resume": MANAGERS,
        "cancel": MANAGERS,
        "retry_failed": MANAGERS,
        "audience_count": MEMBERS,
        "export": MEMBERS,
        "preview": MEMBERS,
    }
    role_operations = {
        "start": _("iniciar campanhas"),
        "pause": _("pausar campanhas"),
        "resume": _("retomar campanhas"),
        "cancel": _("cancelar campanhas"),
        "retry_failed": _("reenviar falhas de campanhas"),
        "audience_count": _("contar o público de campanhas"),
        "export": _("exportar campanhas"),
    }

    def get_serializer_class(self):
        if self.action == "list":
            return CampaignListSerializer
        return super().get_serializer_class()

    @extend_schema(request=CampaignCreateSerializer, responses={201: CampaignSerializer})
    def create(self, request, *args, **kwargs):
        tenant = self.require_tenant()
        incoming = CampaignCreateSerializer(data=request.data, context={"tenant": tenant})
        incoming.is_valid(raise_exception=True)
        try:
            campaign = services.campaign_create(tenant=tenant, **incoming.validated_data)
        except services.CampaignError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    def _changed(self, done) -> Response:
        campaign = self.get_object()
        try:
            result = done(campaign)
        except services.CampaignError as exc:
            return _refused(exc)
        if not result:
            return _refused(
                _("A campanha está %(status)s; isto não se aplica.")
                % {"status": campaign.get_status_display().lower()}
            )
        campaign.refresh_from_db()
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(request=None, responses={200: CampaignSerializer, 409: ERROR_BODY})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._changed(lambda c: services.campaign_start(campaign=c))

    @extend_schema(request=None, responses={200: CampaignSerializer, 409: ERROR_BODY})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._changed(lambda c: services.campaign_pause(campaign=c))

    @extend_schema(request=None, responses={200: CampaignSerializer, 409: ERROR_BODY})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._changed(lambda c: services.campaign_resume(campaign=c))

    @extend_schema(request=None, responses={200: CampaignSerializer, 409: ERROR_BODY})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._changed(lambda c: services.campaign_cancel(campaign=c))

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"], url_path="retry-failed")
    def retry_failed(self, request, pk=None):
        """Send again to the customers whose message failed with a retryable Meta code
        (`retried` says how many; 0 when none)."""
        campaign = self.get_object()
        n = services.campaign_retry_failed(campaign=campaign)
        campaign.refresh_from_db()
        return Response({**CampaignSerializer(campaign).data, "retried": n})

    @extend_schema(request=AudienceSerializer, responses={200: COUNT_BODY})
    @action(detail=False, methods=["post"], url_path="audience-count")
    def audience_count(self, request):
        """How many customers an audience reaches now (opted-out customers never count)."""
        tenant = self.require_tenant()
        incoming = AudienceSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        n = audience_count(tenant_id=tenant.pk, definition=incoming.validated_data["audience"])
        return Response({"customers": n})

    @extend_schema(
        responses={
            200: inline_serializer(
                "CampaignPreview",
                {
                    "cliente": serializers.CharField(),
                    "variant": serializers.CharField(),
                    "template": serializers.CharField(),
                    "params": serializers.ListField(child=serializers.CharField()),
                    "text": serializers.CharField(),
                    "pending": serializers.BooleanField(),
                    "fallback": serializers.BooleanField(),
                },
                many=True,
            )
        }
    )
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        """The first customers of the audience with the parameters each would get and the
        text they would read; `pending`: the assistant is still writing theirs; `fallback`:
        it failed and the fixed value stands in."""
        campaign = self.get_object()
        return Response(
            [
                {
                    "cliente": row.cliente_nome or row.telefone,
                    "variant": row.variant.label,
                    "template": row.variant.template.name,
                    "params": row.params,
                    "text": row.text,
                    "pending": row.pending,
                    "fallback": row.fallback,
                }
                for row in previews.campaign_preview(campaign=campaign)
            ]
        )

    @extend_schema(responses={(200, "text/csv"): str})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        """One line per customer: variant, status, why skipped, Meta's status and error."""
        campaign = self.get_object()
        response = HttpResponse(stats.campaign_csv(campaign=campaign), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="campanha-{campaign.pk}.csv"'
        return response


class ContactImportViewSet(TenantScopedViewSet):
    """Upload a CSV of contacts with the proof of their opt-in (campaigns.imports)."""

    queryset = ContactImport.objects.all()
    serializer_class = ContactImportSerializer
    http_method_names = ["post", "options"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    required_roles = {"create": MANAGERS}

    @extend_schema(
        request={
            "multipart/form-data": ContactImportSerializer,
            "application/json": ContactImportSerializer,
        },
        responses={
            201: inline_serializer(
                "ContactImportResult",
                {
                    "id": serializers.IntegerField(),
                    "created": serializers.IntegerField(),
                    "existing": serializers.IntegerField(),
                    "opted_out": serializers.IntegerField(),
                    "rejected": serializers.ListField(child=serializers.CharField()),
                },
            )
        },
    )
    def create(self, request, *args, **kwargs):
        tenant = self.require_tenant()
        incoming = ContactImportSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            result = imports.contacts_import(
                tenant=tenant,
                name=incoming.validated_data["name"],
                content=incoming.validated_data["content"],
                by=_actor(request),
            )
        except imports.ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "id": result.contact_import.pk,
                "created": result.created,
                "existing": result.existing,
                "opted_out": result.opted_out,
                "rejected": result.rejected,
            },
            status=status.HTTP_201_CREATED,
        )


class ScheduledMessageViewSet(TenantScopedViewSet):
    """Messages scheduled to one customer; cancellable until sent."""

    queryset = ScheduledMessage.objects.select_related("cliente")
    serializer_class = ScheduledMessageSerializer
    http_method_names = ["get", "post", "head", "options"]
    required_roles = {"create": MEMBERS, "cancel": MEMBERS}
    role_operations = {"cancel": _("cancelar mensagens agendadas")}

    def create(self, request, *args, **kwargs):
        self.require_tenant()
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            row = scheduled.scheduled_create(
                chatbot=data["chatbot"],
                cliente=data["cliente"],
                text=data["text"],
                send_at=data["send_at"],
                template=data.get("template"),
                params=data.get("params") or [],
                by=_actor(request),
            )
        except scheduled.ScheduleError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ScheduledMessageSerializer, 409: ERROR_BODY})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        row = self.get_object()
        if not scheduled.scheduled_cancel(scheduled=row):
            return _refused(_("A mensagem já foi enviada ou cancelada."))
        return Response(self.get_serializer(row).data)
