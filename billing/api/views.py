"""Billing and analytics endpoints: thin; the services and selectors decide."""

from __future__ import annotations

import io
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from prometheus_client import Counter
from rest_framework import exceptions, permissions, status
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import analytics, services, webhooks
from billing.api.serializers import (
    HistorySerializer,
    SummarySerializer,
    TenantProvisionedSerializer,
    TenantProvisionSerializer,
)
from config import csv_safe
from config import webhooks as webhook_http

logger = logging.getLogger(__name__)

PAYMENT_WEBHOOK = Counter(
    "billing_payment_webhook_total", "Payment webhook requests, by outcome", ["outcome"]
)


# --- Payment webhook -----------------------------------------------------------------------


@method_decorator(csrf_exempt, name="dispatch")
class PaymentWebhookView(View):
    """`POST /api/billing/webhook/`: payment events in the provider-neutral shape
    (billing.webhooks; README "Webhook de pagamentos").

    Refusals change nothing: 400 for a bad Content-Length and 413 over 256 KB; 503 while
    BILLING_WEBHOOK_SECRET is unset; the uniform 401 of every webhook (config.webhooks) for
    a missing, stale or wrong signature, whatever tenant the request names; after the
    signature, 400 for a malformed event or an unknown type and 404 for an unknown tenant
    (only a holder of the secret gets that far). 200 otherwise, with the outcome:
    `applied`, `duplicate` (the event id was seen), `stale` (older than an applied event)
    or `no_subscription`.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        try:
            body = webhook_http.read_body(request, limit=webhooks.MAX_BODY_BYTES)
        except webhook_http.BodyRefused as exc:
            return self._refuse(exc.status, exc.reason, exc.detail)
        timestamp = request.headers.get(webhooks.TIMESTAMP_HEADER, "")
        try:
            webhooks.signature_verify(
                secret=settings.BILLING_WEBHOOK_SECRET,
                timestamp=timestamp,
                signature=request.headers.get(webhooks.SIGNATURE_HEADER, ""),
                body=body,
            )
            event = webhooks.event_parse(body=body, timestamp=timestamp)
            if event.type not in webhooks.EVENT_HANDLERS:
                known = ", ".join(webhooks.EVENT_HANDLERS)
                raise webhooks.WebhookRejected(
                    400, "unknown_type", f"Unknown event type {event.type!r}; known: {known}."
                )
            tenant = webhooks.tenant_for_event(
                domain=request.headers.get(webhooks.DOMAIN_HEADER, ""), slug=event.tenant_slug
            )
            outcome = webhooks.payment_event_apply(tenant=tenant, event=event)
        except webhooks.WebhookRejected as exc:
            return self._refuse(exc.status, exc.code, exc.detail)
        PAYMENT_WEBHOOK.labels(outcome=outcome).inc()
        return JsonResponse({"status": outcome, "event": event.id})

    def _refuse(self, status_code: int, code: str, detail: str) -> JsonResponse:
        PAYMENT_WEBHOOK.labels(outcome=code).inc()
        logger.warning("payment webhook refused", extra={"reason": code, "detail": detail})
        if status_code == 401:
            return webhook_http.unauthorized()
        return JsonResponse({"error": code, "detail": detail}, status=status_code)


# --- Provisioning --------------------------------------------------------------------------


class IsSuperuser(permissions.BasePermission):
    message = _("Só superusuários da plataforma podem criar empresas.")

    def has_permission(self, request, view) -> bool:
        return bool(getattr(request.user, "is_superuser", False))


class TenantProvisionView(APIView):
    """`POST /api/billing/tenants/`: a tenant, its owner, subscription and first API key."""

    permission_classes = [permissions.IsAuthenticated, IsSuperuser]

    @extend_schema(request=TenantProvisionSerializer, responses={201: TenantProvisionedSerializer})
    def post(self, request):
        data = TenantProvisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        result = services.tenant_provision(
            name=values["name"],
            slug=values["slug"],
            plan_name=values["plan"],
            owner_email=values["owner_email"],
            owner_password=values.get("owner_password") or None,
            time_zone=values["time_zone"],
            domain=values.get("domain", ""),
            api_key_name=values["api_key_name"],
        )
        response = Response(
            TenantProvisionedSerializer(result).data, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"  # it carries a secret shown once
        return response


# --- Analytics -----------------------------------------------------------------------------


class CSVRenderer(BaseRenderer):
    """The history as CSV (comma-separated, dot decimals, UTF-8), for spreadsheets."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "results" in data:
            return analytics.history_csv(data["results"]).encode(self.charset)
        out = io.StringIO()  # an error: keep it readable
        writer = csv_safe.writer(out)
        for key, value in (data or {}).items():
            writer.writerow([key, value])
        return out.getvalue().encode(self.charset)


def _tenant(request):
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        raise exceptions.ValidationError(
            {"tenant": _("Indique a empresa com o cabeçalho X-Tenant para ver os números.")}
        )
    return tenant


class AnalyticsSummaryView(APIView):
    """`GET /api/analytics/summary/`: this period's numbers of the request's tenant."""

    @extend_schema(responses=SummarySerializer)
    def get(self, request):
        summary = analytics.analytics_summary(tenant=_tenant(request))
        return Response(SummarySerializer(summary).data)


class AnalyticsHistoryView(APIView):
    """`GET /api/analytics/history/?period=week|month`: one row per day (CSV with
    `?format=csv` or `/api/analytics/history.csv`)."""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, enum=list(analytics.PERIOD_DAYS), default="month"),
            OpenApiParameter("format", str, enum=["json", "csv"], required=False),
        ],
        responses=HistorySerializer,
    )
    def get(self, request, format=None):  # noqa: A002 (DRF's name for the suffix)
        period = request.query_params.get("period", "month")
        if period not in analytics.PERIOD_DAYS:
            raise exceptions.ValidationError({"period": _("Use period=week ou period=month.")})
        tenant = _tenant(request)
        days = analytics.analytics_history(tenant=tenant, days=analytics.PERIOD_DAYS[period])
        data = HistorySerializer({"period": period, "results": [d.as_dict() for d in days]}).data
        response = Response(data)
        if request.accepted_renderer.format == "csv":
            name = f"historico-{tenant.slug}-{period}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
