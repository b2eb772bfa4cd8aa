from __future__ import annotations

from rest_framework import exceptions, permissions

from billing.tenancy import TenantResolutionError, resolve_tenant


class IsTenantMember(permissions.BasePermission):
    """Authenticated, and acting for a tenant the credential belongs to.

    Sets `request.tenant` (None only for a superuser acting across tenants).
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        try:
            request.tenant = resolve_tenant(request)
        except TenantResolutionError as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        return True
