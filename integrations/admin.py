"""Event webhooks in the admin: owners and admins configure subscriptions; every member
sees the delivery log of their own tenants; owners and admins redeliver."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.admin_tenancy import (
    WRITE_ROLES,
    TenantConsistencyForm,
    TenantScopedAdmin,
    TenantScopedInline,
    _roles,
    _roles_by_tenant,
)
from billing.models import Tenant
from integrations import report, services
from integrations.catalog import EventType
from integrations.models import (
    MonthlyReport,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)


class ManagersOnlyAdmin(TenantScopedAdmin):
    """Owners and admins of a tenant see these rows (and superusers); attendants do not: a
    subscription's URL and the log's payloads are the integration's business, as in the API."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(tenant_id__in=self._writable_tenant_ids(request))

    def has_module_permission(self, request):
        return request.user.is_superuser or bool(_roles(request) & WRITE_ROLES)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or bool(self._obj_roles(request, obj) & WRITE_ROLES)


class WebhookSubscriptionForm(TenantConsistencyForm):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Recebe um POST assinado (HMAC-SHA256) a cada evento escolhido."),
    )
    events = forms.MultipleChoiceField(
        label=_("eventos"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )
    # Write-only: the stored secret is never sent back to the browser; empty keeps it.
    secret = forms.CharField(
        label=_("segredo da assinatura"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "Usado para assinar cada evento (HMAC-SHA256); o seu sistema confere a assinatura "
            "com ele. Deixe em branco para manter o atual."
        ),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["tenant", "description", "url", "events", "secret", "active"]

    def clean_secret(self):
        value = self.cleaned_data.get("secret") or ""
        value = value or (self.instance.secret if self.instance.pk else "")
        if not value:
            raise forms.ValidationError(gettext("Informe o segredo usado para assinar os eventos."))
        return value

    def clean_events(self):
        chosen = self.cleaned_data.get("events") or []
        return [value for value in EventType.values if value in chosen]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ManagersOnlyAdmin):
    form = WebhookSubscriptionForm
    list_display = ["__str__", "tenant", "url", "active", "updated_at"]
    list_filter = ["active"]
    list_select_related = ["tenant"]

    def save_model(self, request, obj, form, change):
        services.subscription_save(subscription=obj)

    def delete_model(self, request, obj):
        services.subscription_delete(subscription=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.subscription_delete(subscription=obj)


class WebhookAttemptInline(TenantScopedInline, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "at", "status_code", "response_excerpt", "error", "duration_ms"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ManagersOnlyAdmin):
    """The delivery log: read-only; the one action is to send again."""

    list_display = [
        "created_at",
        "tenant",
        "event_type",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
    ]
    list_filter = ["status", "event_type"]
    list_select_related = ["tenant", "subscription"]
    readonly_fields = [
        "tenant",
        "subscription",
        "event_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
    ]
    exclude = ["claimed_at"]
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Enviar de novo"))
    def redeliver(self, request, queryset):
        roles = _roles_by_tenant(request)
        sent = refused = 0
        for delivery in queryset:
            if (
                not request.user.is_superuser
                and not roles.get(delivery.tenant_id, set()) & WRITE_ROLES
            ):
                refused += 1
                continue
            sent += services.delivery_redeliver(delivery=delivery)
        if sent:
            self.message_user(
                request,
                gettext("%(n)s entrega(s) na fila para envio agora.") % {"n": sent},
                messages.SUCCESS,
            )
        if refused:
            self.message_user(
                request,
                gettext(
                    "%(n)s entrega(s) não reenviada(s): só proprietários e administradores "
                    "da empresa reenviam."
                )
                % {"n": refused},
                messages.ERROR,
            )


def _may_report(request, tenant_id: int) -> bool:
    """The monthly report is the business's numbers: owners and admins (and superusers)."""
    return request.user.is_superuser or bool(
        _roles_by_tenant(request).get(tenant_id, set()) & WRITE_ROLES
    )


@admin.register(MonthlyReport)
class MonthlyReportAdmin(ManagersOnlyAdmin):
    """Reports emailed so far; each tenant's months to download are on its own page, linked
    from the tenant's dashboard."""

    list_display = ["month", "tenant", "recipients", "emailed_at", "download_link"]
    list_select_related = ["tenant"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("PDF"))
    def download_link(self, obj):
        url = reverse("admin:integrations_report_pdf", args=[obj.tenant_id, f"{obj.month:%Y-%m}"])
        return format_html('<a href="{}">{}</a>', url, gettext("Baixar"))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "tenant/<int:tenant_id>/",
                view(self.months_view),
                name="integrations_report_months",
            ),
            path(
                "tenant/<int:tenant_id>/<str:month>.pdf",
                view(self.pdf_view),
                name="integrations_report_pdf",
            ),
            *super().get_urls(),
        ]

    def _tenant(self, request, tenant_id: int) -> Tenant:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None or not (
            request.user.is_superuser or tenant_id in _roles_by_tenant(request)
        ):
            raise Http404
        if not _may_report(request, tenant_id):
            raise PermissionDenied
        return tenant

    def months_view(self, request, tenant_id: int):
        tenant = self._tenant(request, tenant_id)
        this_month = timezone.localdate().replace(day=1)
        months, month = [], this_month
        for _i in range(12):
            months.append(
                {
                    "label": report.month_label(month),
                    "url": reverse(
                        "admin:integrations_report_pdf", args=[tenant.pk, f"{month:%Y-%m}"]
                    ),
                    "partial": month == this_month,
                }
            )
            month = report.previous_month(month)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "tenant": tenant,
            "months": months,
            "title": gettext("Relatórios mensais de %(tenant)s") % {"tenant": tenant.name},
        }
        return TemplateResponse(request, "admin/integrations/report_months.html", context)

    def pdf_view(self, request, tenant_id: int, month: str):
        tenant = self._tenant(request, tenant_id)
        try:
            first_day = report.month_parse(month)
        except ValueError:
            raise Http404 from None
        pdf = report.report_render(tenant=tenant, month=first_day)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="{report.report_filename(tenant, first_day)}"'
        )
        return response
