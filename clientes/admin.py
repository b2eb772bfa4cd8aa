from django.contrib import admin

from billing.admin_tenancy import TenantScopedAdmin
from clientes import services
from clientes.models import Cliente


@admin.register(Cliente)
class ClienteAdmin(TenantScopedAdmin):
    list_display = ["nome", "telefone", "tenant", "criado_em"]
    search_fields = ["nome", "telefone", "whatsapp_user_id"]
    list_select_related = ["tenant"]
    readonly_fields = ["wa_id", "whatsapp_user_id", "criado_em", "atualizado_em"]
    agent_can_change = True

    def save_model(self, request, obj, form, change):
        # Through the service, so the phone is normalized and checked like in the API.
        data = {
            f: form.cleaned_data[f] for f in ("nome", "telefone", "tags") if f in form.cleaned_data
        }
        if change:
            services.cliente_update(cliente=obj, **data)
        else:
            form.instance = services.cliente_create(tenant=obj.tenant, **data)
            obj.pk = form.instance.pk
