"""REST endpoints of the event webhooks, under /api/integrations/: owners and admins (and
API keys, which act as admins) only, for reads too: a subscription's URL and the log's
payloads are the integration's business, not the attendants'."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.api.permissions import MANAGERS, TenantRolePermission
from billing.api.viewsets import TenantScopedViewSet
from compliance.audit import AuditedViewSetMixin
from integrations import services
from integrations.api.serializers import WebhookDeliverySerializer, WebhookSubscriptionSerializer
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

ALL_ACTIONS = ["list", "retrieve", "create", "update", "partial_update", "destroy", "metadata"]


class WebhookSubscriptionViewSet(TenantScopedViewSet):
    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSubscriptionSerializer
    required_roles = dict.fromkeys(ALL_ACTIONS, MANAGERS)

    def perform_create(self, serializer):
        subscription = WebhookSubscription(
            tenant=self.require_tenant(), **serializer.validated_data
        )
        serializer.instance = services.subscription_save(subscription=subscription)

    def perform_update(self, serializer):
        subscription = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(subscription, name, value)
        serializer.instance = services.subscription_save(subscription=subscription)

    def perform_destroy(self, instance):
        services.subscription_delete(subscription=instance)


class WebhookDeliveryViewSet(
    AuditedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The delivery log: read, and send again; nothing else is written here (no POST to
    the list: deliveries come from events only)."""

    permission_classes = [TenantRolePermission]
    queryset = WebhookDelivery.objects.select_related("subscription").prefetch_related(
        Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))
    )
    serializer_class = WebhookDeliverySerializer
    required_roles = dict.fromkeys(["list", "retrieve", "metadata", "redeliver"], MANAGERS)
    role_operations = {"redeliver": _("reenviar eventos")}
    filterset_fields = ["status", "event_type", "subscription"]

    def get_queryset(self):
        # As billing.api.viewsets.TenantScopedViewSet: the request tenant's rows only.
        qs = super().get_queryset()
        tenant = getattr(self.request, "tenant", None)
        if tenant is None:
            return qs if getattr(self.request.user, "is_superuser", False) else qs.none()
        return qs.filter(tenant=tenant)

    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        """Send the event once more, now (same event id and body, a new signature)."""
        delivery = self.get_object()
        if not services.delivery_redeliver(delivery=delivery):
            raise exceptions.ValidationError(
                {"detail": _("Esta entrega está sendo enviada agora; tente de novo em instantes.")}
            )
        delivery.refresh_from_db()
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)
