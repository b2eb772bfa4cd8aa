"""Admin of the compliance app, and the LGPD actions on customers.

The audit log is read-only for everyone, superusers included: no add, change or delete
(a POST to those URLs answers 403). Only owners and admins of a tenant see it.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing.admin_tenancy import (
    WRITE_ROLES,
    TenantConsistencyForm,
    TenantScopedAdmin,
    _roles,
    _roles_by_tenant,
)
from clientes.phones import mask_phone
from compliance import consent, erasure, export
from compliance.models import (
    AuditLog,
    ConsentEvent,
    ConsentSettings,
    ReactivationSend,
    RetentionPolicy,
)
from config.paginator import LargeTablePaginator

KNOWN_ACTIONS = [
    ("create", gettext_lazy("Criação")),
    ("update", gettext_lazy("Alteração")),
    ("delete", gettext_lazy("Exclusão")),
    ("export", gettext_lazy("Exportação LGPD")),
    ("erase", gettext_lazy("Apagamento LGPD")),
    ("consent.opt_out", gettext_lazy("Saiu das mensagens")),
    ("consent.opt_in", gettext_lazy("Voltou às mensagens")),
    ("login", gettext_lazy("Login (painel ou API)")),
    ("login.failed", gettext_lazy("Login recusado")),
    ("login.locked", gettext_lazy("Login bloqueado (muitas tentativas)")),
    ("tenant.create", gettext_lazy("Empresa criada")),
    ("subscription.start", gettext_lazy("Assinatura iniciada/alterada")),
]


def _can_manage(request, tenant_id: int | None = None) -> bool:
    """Owners and admins (of `tenant_id` when given) may see the log and act on personal data."""
    if request.user.is_superuser:
        return True
    if tenant_id is None:
        return bool(_roles(request) & WRITE_ROLES)
    return bool(_roles_by_tenant(request).get(tenant_id, set()) & WRITE_ROLES)


class ActionFilter(admin.SimpleListFilter):
    """The known actions; a DISTINCT over the whole log would scan all of it."""

    title = gettext_lazy("ação")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return KNOWN_ACTIONS

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditLog)
class AuditLogAdmin(TenantScopedAdmin):
    list_display = [
        "created_at",
        "tenant",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "ip",
    ]
    list_filter = [ActionFilter, "actor_type", "object_type"]
    search_fields = ["=object_id", "actor_label"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant"]
    ordering = ["-id"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    fields = [
        "created_at",
        "tenant",
        "actor_type",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "changes_pretty",
        "ip",
        "request_id",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("alterações"))
    def changes_pretty(self, obj) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.changes, ensure_ascii=False, indent=2))

    def has_module_permission(self, request):
        return _can_manage(request)

    def has_view_permission(self, request, obj=None):
        return _can_manage(request, obj.tenant_id if obj is not None else None)

    # Append-only, for everyone: only the retention job removes entries.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyTenantAdmin(TenantScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyTenantAdmin):
    list_display = ["occurred_at", "cliente", "opted_out", "source", "actor_label", "detail"]
    list_filter = ["opted_out", "source"]
    list_select_related = ["cliente"]
    search_fields = ["=cliente__telefone"]
    ordering = ["-id"]
    paginator = LargeTablePaginator
    show_full_result_count = False


@admin.register(ReactivationSend)
class ReactivationSendAdmin(ReadOnlyTenantAdmin):
    list_display = ["created_at", "window", "chatbot", "cliente", "status", "error_code"]
    list_filter = ["status", "window"]
    list_select_related = ["chatbot", "cliente"]
    ordering = ["-id"]
    paginator = LargeTablePaginator
    show_full_result_count = False


class ConsentSettingsForm(TenantConsistencyForm):
    def clean(self):
        cleaned = super().clean()
        for name in ("optout_keywords", "optin_keywords"):
            value = cleaned.get(name)
            if value in (None, ""):
                cleaned[name] = []
            elif not isinstance(value, list) or not all(
                isinstance(k, str) and consent.keyword_key(k) for k in value
            ):
                self.add_error(name, _('Informe uma lista de palavras, ex.: ["SAIR", "PARAR"].'))
        optout = {consent.keyword_key(k) for k in cleaned.get("optout_keywords") or []}
        optin = {consent.keyword_key(k) for k in cleaned.get("optin_keywords") or []}
        if optout & optin:
            raise ValidationError(_("Uma palavra não pode servir para sair e para voltar."))
        return cleaned


@admin.register(ConsentSettings)
class ConsentSettingsAdmin(TenantScopedAdmin):
    form = ConsentSettingsForm
    list_display = ["tenant", "updated_at"]


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(TenantScopedAdmin):
    list_display = ["tenant", "message_text_days", "raw_webhook_days", "audit_days", "updated_at"]


# --- Actions on Cliente (listed in clientes.admin.ClienteAdmin.actions) ----------------------


def _manageable(request, queryset):
    if request.user.is_superuser:
        return queryset
    tenant_ids = [t for t, roles in _roles_by_tenant(request).items() if roles & WRITE_ROLES]
    return queryset.filter(tenant_id__in=tenant_ids)


@admin.action(description=gettext_lazy("Exportar dados pessoais (LGPD, ZIP)"))
def export_personal_data(modeladmin, request, queryset):
    clientes = list(_manageable(request, queryset).select_related("tenant")[:2])
    if len(clientes) != 1:
        modeladmin.message_user(
            request,
            _("Selecione exatamente um cliente (de uma empresa que você administra)."),
            messages.WARNING,
        )
        return None
    cliente = clientes[0]
    document = export.cliente_export(cliente=cliente, actor=request.user, output="zip")
    response = HttpResponse(export.export_zip(document), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="lgpd-cliente-{cliente.pk}.zip"'
    return response


@admin.action(description=gettext_lazy("Apagar dados pessoais (LGPD)…"))
def erase_personal_data(modeladmin, request, queryset):
    clientes = list(_manageable(request, queryset).select_related("tenant"))
    if not clientes:
        modeladmin.message_user(
            request, _("Nenhum cliente de uma empresa que você administra."), messages.WARNING
        )
        return None
    if request.POST.get("post") == "yes":
        erased = 0
        for cliente in clientes:
            erased += erasure.cliente_erase(cliente=cliente, actor=request.user).clientes
        modeladmin.message_user(
            request,
            ngettext(
                "Dados de %(count)d cliente apagados. Pedidos e agendamentos ficaram anônimos.",
                "Dados de %(count)d clientes apagados. Pedidos e agendamentos ficaram anônimos.",
                erased,
            )
            % {"count": erased},
            messages.SUCCESS,
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Apagar dados pessoais (LGPD)"),
        "opts": modeladmin.model._meta,
        "clientes": [
            {"pk": c.pk, "label": c.nome or _("(sem nome)"), "phone": mask_phone(c.telefone)}
            for c in clientes
        ],
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "action": "erase_personal_data",
    }
    return TemplateResponse(request, "admin/compliance/erase_confirmation.html", context)


def _consent_action(opted_out: bool):
    def action(modeladmin, request, queryset):
        changed = 0
        change = consent.consent_opt_out if opted_out else consent.consent_opt_in
        for cliente in _manageable(request, queryset):
            changed += change(cliente=cliente, source=ConsentEvent.Source.ADMIN, actor=request.user)
        modeladmin.message_user(
            request,
            _("Consentimento alterado para %(count)d cliente(s).") % {"count": changed},
            messages.SUCCESS if changed else messages.WARNING,
        )

    return action


optout_customers = admin.action(description=gettext_lazy("Parar mensagens proativas (opt-out)"))(
    _consent_action(True)
)
optout_customers.__name__ = "optout_customers"
optin_customers = admin.action(description=gettext_lazy("Voltar a enviar mensagens proativas"))(
    _consent_action(False)
)
optin_customers.__name__ = "optin_customers"

CLIENTE_ACTIONS = [export_personal_data, erase_personal_data, optout_customers, optin_customers]
