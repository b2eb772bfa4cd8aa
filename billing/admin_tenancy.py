"""Admin scoping: staff see and pick only their tenants' rows; superusers see everything.

Use `TenantScopedAdmin` (and `TenantScopedInline`) for every tenant-owned model. The
changelist, the change form (404 for another tenant's row, since it is not in the queryset),
foreign-key and many-to-many choices, raw-id and autocomplete lookups and actions all go
through `get_queryset`, so isolation holds everywhere the admin reaches.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from billing.models import Membership, Tenant
from billing.tenancy import user_tenants

WRITE_ROLES = {Membership.Role.OWNER, Membership.Role.ADMIN}


def _tenant_owned(model) -> bool:
    try:
        field = model._meta.get_field("tenant")
    except Exception:
        return False
    return getattr(field, "related_model", None) is Tenant


def _roles(request) -> set[str]:
    cached = getattr(request, "_tenant_roles", None)
    if cached is None:
        cached = set(
            Membership.objects.filter(user=request.user, tenant__active=True).values_list(
                "role", flat=True
            )
        )
        request._tenant_roles = cached
    return cached


class TenantConsistencyForm(forms.ModelForm):
    """Refuses a row that points at another tenant's row (a user in two tenants could mix)."""

    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        if tenant is None:
            return cleaned
        for name, value in cleaned.items():
            if name == "tenant" or value is None or not hasattr(value, "_meta"):
                continue
            if _tenant_owned(type(value)) and value.tenant_id != tenant.pk:
                raise ValidationError({name: _("Este registro pertence a outra empresa.")})
        return cleaned


class TenantScopeMixin:
    """Shared by ModelAdmin and inlines. `tenant_path` reaches the tenant from the model."""

    tenant_path = "tenant"
    agent_can_change = False  # agents (attendants) may edit this model, e.g. conversations

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.tenant_path}__in": user_tenants(request.user)})

    def _limit(self, db_field, request, kwargs):
        if request.user.is_superuser:
            return kwargs
        model = db_field.related_model
        tenants = user_tenants(request.user)
        if model is Tenant:
            kwargs["queryset"] = tenants
        elif _tenant_owned(model):
            kwargs["queryset"] = model._default_manager.filter(tenant__in=tenants)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(
            db_field, request, **self._limit(db_field, request, kwargs)
        )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(
            db_field, request, **self._limit(db_field, request, kwargs)
        )

    def has_module_permission(self, request):
        return request.user.is_superuser or bool(_roles(request))

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or bool(_roles(request))

    def has_add_permission(self, request, *args):
        return request.user.is_superuser or bool(_roles(request) & WRITE_ROLES)

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        roles = _roles(request)
        return bool(roles & WRITE_ROLES) or (self.agent_can_change and bool(roles))

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser or bool(_roles(request) & WRITE_ROLES)


class TenantScopedAdmin(TenantScopeMixin, admin.ModelAdmin):
    form = TenantConsistencyForm

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        # A user of exactly one tenant never has to pick it.
        if not request.user.is_superuser and "tenant" in form.base_fields:
            tenants = list(user_tenants(request.user)[:2])
            if len(tenants) == 1:
                form.base_fields["tenant"].initial = tenants[0]
        return form

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and self.tenant_path == "tenant" and "tenant" not in filters:
            filters.insert(0, "tenant")
        return filters


class TenantScopedInline(TenantScopeMixin):
    """Mix in before admin.TabularInline / admin.StackedInline."""
