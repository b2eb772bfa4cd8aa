"""Admin scoping: staff see and pick only their tenants' rows; superusers see everything.

Use `TenantScopedAdmin` (and `TenantScopedInline`) for every tenant-owned model. The
changelist, the change form (404 for another tenant's row, since it is not in the queryset),
foreign-key and many-to-many choices, raw-id and autocomplete lookups and actions all go
through `get_queryset`, so isolation holds everywhere the admin reaches.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.utils.translation import gettext as _

from billing.models import Membership, Tenant
from billing.tenancy import user_tenants
from compliance.audit import AuditedAdminMixin

WRITE_ROLES = {Membership.Role.OWNER, Membership.Role.ADMIN}


def _tenant_owned(model) -> bool:
    try:
        field = model._meta.get_field("tenant")
    except Exception:
        return False
    return getattr(field, "related_model", None) is Tenant


def _roles_by_tenant(request) -> dict[int, set[str]]:
    cached = getattr(request, "_tenant_roles", None)
    if cached is None:
        cached = {}
        # The admin's login page builds its menu for the anonymous user too.
        if request.user.is_authenticated:
            for tenant_id, role in Membership.objects.filter(
                user=request.user, tenant__active=True
            ).values_list("tenant_id", "role"):
                cached.setdefault(tenant_id, set()).add(role)
        request._tenant_roles = cached
    return cached


def _roles(request) -> set[str]:
    """Every role the user has, in any of their tenants (for lists and menus)."""
    return set().union(*_roles_by_tenant(request).values())


def _obj_tenant_id(obj, path: str) -> int | None:
    if hasattr(obj, "tenant_id"):
        return obj.tenant_id
    target = obj
    try:
        for part in path.split("__"):
            target = getattr(target, part)
    except (AttributeError, ObjectDoesNotExist):
        return None
    return getattr(target, "pk", None)


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
            # Only the tenants where this user may write this model: an owner of one tenant
            # who is an agent in another must not add rows to the second one.
            kwargs["queryset"] = tenants.filter(pk__in=self._writable_tenant_ids(request))
        elif _tenant_owned(model):
            kwargs["queryset"] = model._default_manager.filter(tenant__in=tenants)
        return kwargs

    def _can_write(self, roles: set[str]) -> bool:
        return bool(roles & WRITE_ROLES) or (self.agent_can_change and bool(roles))

    def _writable_tenant_ids(self, request) -> list[int]:
        return [t for t, roles in _roles_by_tenant(request).items() if self._can_write(roles)]

    def _obj_roles(self, request, obj) -> set[str]:
        """Roles that count for `obj`: the user's roles in obj's tenant when known.

        For inlines Django passes the parent object; it carries the same tenant.
        """
        if obj is None:
            return _roles(request)
        tenant_id = _obj_tenant_id(obj, self.tenant_path)
        if tenant_id is None:
            return _roles(request)
        return _roles_by_tenant(request).get(tenant_id, set())

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
        return request.user.is_superuser or bool(self._obj_roles(request, obj))

    def has_add_permission(self, request, *args):
        return request.user.is_superuser or bool(_roles(request) & WRITE_ROLES)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser or self._can_write(self._obj_roles(request, obj))

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser or bool(self._obj_roles(request, obj) & WRITE_ROLES)


class TenantScopedAdmin(AuditedAdminMixin, TenantScopeMixin, admin.ModelAdmin):
    """Tenant-scoped, and every add/change/delete is written to the audit log."""

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
