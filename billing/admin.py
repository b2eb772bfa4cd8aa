from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin

from agenda import insights as agenda_insights
from billing import admin_menu, alerts, analytics, charts, quotas, services
from billing.admin_tenancy import TenantConsistencyForm, TenantScopedAdmin
from billing.models import (
    BillingAlert,
    BillingSettings,
    DailyUsage,
    LimitKind,
    Membership,
    PaymentEvent,
    Plan,
    Subscription,
    Tenant,
    TenantAPIKey,
)
from billing.tenancy import user_tenants


class MembershipFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return
        deleting = [form.cleaned_data.get("DELETE") for form in self.forms]
        added = sum(
            1
            for form, gone in zip(self.forms, deleting, strict=True)
            if form.cleaned_data and not form.instance.pk and not gone
        )
        removed = sum(
            1 for form, gone in zip(self.forms, deleting, strict=True) if form.instance.pk and gone
        )
        if added - removed <= 0:  # seats this save takes, net of the ones it frees
            return
        try:
            quotas.seat_limit_check(
                tenant=self.instance, kind=LimitKind.STAFF, adding=added - removed
            )
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    autocomplete_fields = ["user"]


class ProvisionForm(forms.Form):
    name = forms.CharField(label=_("Nome da empresa"), max_length=200)
    slug = forms.SlugField(label=_("Identificador"), max_length=64)
    plan = forms.ModelChoiceField(label=_("Plano"), queryset=Plan.objects.filter(active=True))
    owner_email = forms.EmailField(label=_("E-mail do proprietário"))
    time_zone = forms.CharField(label=_("Fuso horário"), initial="America/Sao_Paulo")
    domain = forms.CharField(label=_("Domínio"), max_length=253, required=False)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "active", "time_zone", "created_at", "dashboard_link"]
    list_filter = ["active"]
    search_fields = ["name", "slug", "domain"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "domain", "active", "time_zone"]
    inlines = [MembershipInline]
    change_list_template = "admin/billing/tenant/change_list.html"

    # Staff see their own tenants read-only; only superusers create or change tenants.
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(pk__in=user_tenants(request.user))

    def has_module_permission(self, request):
        return request.user.is_superuser or user_tenants(request.user).exists()

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description=_("painel"))
    def dashboard_link(self, obj):
        url = reverse("admin:billing_tenant_dashboard", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Ver números"))

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is Membership and formset.new_objects:
            alerts.seats_check_on_commit(tenant_id=form.instance.pk, kind=LimitKind.STAFF)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("provision/", view(self.provision_view), name="billing_tenant_provision"),
            path(
                "<int:object_id>/dashboard/",
                view(self.dashboard_view),
                name="billing_tenant_dashboard",
            ),
            path(
                "<int:object_id>/dashboard/history.csv",
                view(self.history_csv_view),
                name="billing_tenant_history_csv",
            ),
            *super().get_urls(),
        ]

    def provision_view(self, request):
        """Create a tenant with owner, subscription and first API key; show the key once."""
        if not request.user.is_superuser:
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Nova empresa completa"),
        }
        form = ProvisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = services.tenant_provision(
                    name=data["name"],
                    slug=data["slug"],
                    plan_name=data["plan"].name,
                    owner_email=data["owner_email"],
                    time_zone=data["time_zone"],
                    domain=data["domain"],
                )
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                context.update(result=result, title=gettext("Empresa criada"))
                response = TemplateResponse(
                    request, "admin/billing/tenant/provisioned.html", context
                )
                response["Cache-Control"] = "no-store"  # the key and password are shown once
                return response
        context["form"] = form
        return TemplateResponse(request, "admin/billing/tenant/provision.html", context)

    def _visible_tenant(self, request, object_id: int) -> Tenant:
        tenant = self.get_queryset(request).filter(pk=object_id).first()
        if tenant is None or not self.has_view_permission(request, tenant):
            raise Http404
        return tenant

    def history_csv_view(self, request, object_id: int):
        """The last 30 days as CSV (the same file as /api/analytics/history.csv)."""
        tenant = self._visible_tenant(request, object_id)
        days = analytics.analytics_history(tenant=tenant, days=30)
        response = HttpResponse(
            analytics.history_csv([d.as_dict() for d in days]), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="historico-{tenant.slug}.csv"'
        return response

    def dashboard_view(self, request, object_id: int):
        """A tenant's numbers this period and charts of the last 30 days (inline SVG)."""
        tenant = self._visible_tenant(request, object_id)
        summary = analytics.analytics_summary(tenant=tenant)
        history = analytics.analytics_history(tenant=tenant, days=30)
        series = [
            (
                gettext("Mensagens por dia"),
                [(d.date, d.messages_in + d.messages_out) for d in history],
                0,
            ),
            (gettext("Tokens de IA por dia"), [(d.date, d.ai_tokens) for d in history], 0),
            (
                gettext("Custo estimado por dia (R$)"),
                [(d.date, d.estimated_cost) for d in history],
                2,
            ),
            (gettext("Pedidos por dia"), [(d.date, d.orders) for d in history], 0),
            (
                gettext("Valor dos pedidos por dia (R$)"),
                [(d.date, d.orders_value) for d in history],
                2,
            ),
        ]
        if any(d.appointments is not None for d in history):
            series.append(
                (
                    gettext("Agendamentos por dia"),
                    [(d.date, d.appointments or 0) for d in history],
                    0,
                )
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": tenant,
            "tenant": tenant,
            "title": gettext("Números de %(tenant)s") % {"tenant": tenant.name},
            "summary": summary,
            # The plan's state as the owner reads it ("Em teste"), never the code ("trialing").
            "subscription_label": (
                Subscription.Status(summary["subscription_status"]).label
                if summary["subscription_status"]
                else ""
            ),
            "charts": [
                {"title": title, "svg": charts.bar_chart(title=title, points=points, decimals=dec)}
                for title, points, dec in series
            ],
            "att_tables": [
                (gettext("Por atendente"), summary["attendance"]["per_agent"]),
                (gettext("Por fila"), summary["attendance"]["per_queue"]),
            ],
            "agenda_insights": _agenda_insights(tenant),
            "alerts": BillingAlert.objects.filter(tenant=tenant)[:10],
            "csv_url": reverse("admin:billing_tenant_history_csv", args=[tenant.pk]),
        }
        return TemplateResponse(request, "admin/billing/tenant/dashboard.html", context)


def _agenda_insights(tenant: Tenant) -> dict:
    dados = agenda_insights.agenda_insights(tenant=tenant)
    return {**dados, "grade": agenda_insights.occupation_grid(dados["ocupacao"])}


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "monthly_price",
        "max_messages_per_month",
        "max_chatbots",
        "max_staff",
        "ai_enabled",
        "active",
    ]  # seven columns fit a laptop screen; the AI tokens and trial days are on the plan's page
    list_filter = ["active", "ai_enabled"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for tenant_id in obj.subscriptions.values_list("tenant_id", flat=True):
            quotas.quota_state_invalidate(tenant_id=tenant_id)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["tenant", "plan", "status", "current_period_end", "trial_end", "past_due_since"]
    list_filter = ["status", "plan"]
    list_select_related = ["tenant", "plan"]
    readonly_fields = ["last_event_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        # The grace period counts from when the status changed, not from the period's end.
        if obj.status == Subscription.Status.PAST_DUE and obj.past_due_since is None:
            obj.past_due_since = timezone.now()
        elif obj.status != Subscription.Status.PAST_DUE:
            obj.past_due_since = None
        if obj.status == Subscription.Status.CANCELED and obj.canceled_at is None:
            obj.canceled_at = timezone.now()
        super().save_model(request, obj, form, change)
        services.subscription_change(subscription=obj)


@admin.register(TenantAPIKey)
class TenantAPIKeyAdmin(TenantScopedAdmin, APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "tenant"]
    list_select_related = ["tenant"]
    search_fields = [*APIKeyModelAdmin.search_fields]

    def get_list_filter(self, request):
        return list(super().get_list_filter(request))


class BillingSettingsForm(TenantConsistencyForm):
    # Write-only: the stored secret is never sent back to the browser; empty keeps it.
    alert_webhook_secret = forms.CharField(
        label=_("segredo da assinatura"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Deixe em branco para manter o atual."),
    )

    class Meta:
        model = BillingSettings
        fields = ["tenant", "alert_webhook_url", "alert_webhook_secret", "over_quota_notice"]

    def clean_alert_webhook_secret(self):
        value = self.cleaned_data.get("alert_webhook_secret") or ""
        return value or (self.instance.alert_webhook_secret if self.instance.pk else "")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("alert_webhook_url") and not cleaned.get("alert_webhook_secret"):
            self.add_error(
                "alert_webhook_secret", gettext("Informe o segredo usado para assinar os avisos.")
            )
        return cleaned


@admin.register(BillingSettings)
class BillingSettingsAdmin(TenantScopedAdmin):
    form = BillingSettingsForm
    list_display = ["tenant", "alert_webhook_url", "updated_at"]
    list_select_related = ["tenant"]


class ReadOnlyScopedAdmin(TenantScopedAdmin):
    """Rows the system writes; staff look, nobody edits."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyScopedAdmin):
    list_display = ["day", "tenant", "messages_in", "messages_out", "ai_tokens", "estimated_cost"]
    list_select_related = ["tenant"]
    date_hierarchy = "day"


@admin.register(BillingAlert)
class BillingAlertAdmin(ReadOnlyScopedAdmin):
    """The admin notice of each plan alert (also listed on the tenant's dashboard)."""

    list_display = ["created_at", "tenant", "kind", "threshold", "message", "emailed_at"]
    list_filter = ["kind", "threshold"]
    list_select_related = ["tenant"]


@admin.register(PaymentEvent)
class PaymentEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "tenant", "type", "event_id", "outcome"]
    list_filter = ["type", "outcome"]
    list_select_related = ["tenant"]
    search_fields = ["event_id", "tenant__slug"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.site_header = _("Plataforma de chatbots WhatsApp")
admin.site.site_title = _("Chatbots WhatsApp")
admin.site.index_title = _("Administração")
admin_menu.install(admin.site)  # technical tables out of the tenants' menu
