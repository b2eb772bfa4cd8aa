from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin

from billing.admin_tenancy import TenantScopedAdmin
from billing.models import Membership, Plan, Subscription, Tenant, TenantAPIKey
from billing.tenancy import user_tenants


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "active", "time_zone", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

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
    ]
    list_filter = ["active", "ai_enabled"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["tenant", "plan", "status", "current_period_end", "trial_end"]
    list_filter = ["status", "plan"]
    list_select_related = ["tenant", "plan"]


@admin.register(TenantAPIKey)
class TenantAPIKeyAdmin(TenantScopedAdmin, APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "tenant"]
    list_select_related = ["tenant"]
    search_fields = [*APIKeyModelAdmin.search_fields]

    def get_list_filter(self, request):
        return list(super().get_list_filter(request))


admin.site.site_header = _("Plataforma de chatbots WhatsApp")
admin.site.site_title = _("Chatbots WhatsApp")
admin.site.index_title = _("Administração")
