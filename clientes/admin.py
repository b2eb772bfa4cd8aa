from django.contrib import admin
from django.core.exceptions import ValidationError

from billing.admin_tenancy import TenantConsistencyForm, TenantScopedAdmin
from clientes import services
from clientes.models import Cliente
from compliance.admin import CLIENTE_ACTIONS


class ClienteAdminForm(TenantConsistencyForm):
    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        if tenant is not None and "telefone" in cleaned:
            # Checked here, not only in the service, so a duplicate or a bad number comes
            # back as a form error instead of a 500 from save_model.
            try:
                cleaned["telefone"] = services.cliente_clean_phone(
                    tenant=tenant, telefone=cleaned["telefone"], exclude_pk=self.instance.pk
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(Cliente)
class ClienteAdmin(TenantScopedAdmin):
    form = ClienteAdminForm
    list_display = ["nome", "telefone", "tenant", "criado_em"]
    search_fields = ["nome", "telefone", "whatsapp_user_id"]
    list_select_related = ["tenant"]
    # optout_em changes only through the consent ledger (the actions below), never by hand.
    readonly_fields = ["wa_id", "whatsapp_user_id", "optout_em", "criado_em", "atualizado_em"]
    agent_can_change = True
    actions = CLIENTE_ACTIONS  # LGPD export/erasure and consent (compliance.admin)

    def save_model(self, request, obj, form, change):
        # Through the service, so the phone is normalized and checked like in the API.
        data = {
            f: form.cleaned_data[f]
            for f in ("nome", "telefone", "tags", "idioma")
            if f in form.cleaned_data
        }
        if change:
            services.cliente_update(cliente=obj, **data)
        else:
            form.instance = services.cliente_create(tenant=obj.tenant, **data)
            obj.pk = form.instance.pk
