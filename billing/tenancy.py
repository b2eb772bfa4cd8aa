"""Row-level tenancy: which tenant a request acts for, and which tenants a user may see.

The API resolves the tenant from the credential: an API key belongs to one tenant; a staff
user with one membership acts for it, with several picks one with the `X-Tenant` header.
Superusers see every tenant unless they pick one. The admin scopes to all of a user's
tenants (it has no header); see `billing.admin_mixins`.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from billing.models import Membership, Tenant, TenantAPIKey

TENANT_HEADER = "X-Tenant"


class TenantResolutionError(Exception):
    """The request names no usable tenant; the message says what to send."""


class APIKeyClient:
    """The `request.user` of a request authenticated by an API key (not a Django user)."""

    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False
    is_active = True
    pk = None
    id = None

    def __init__(self, api_key: TenantAPIKey):
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


def user_tenants(user) -> QuerySet[Tenant]:
    if not getattr(user, "is_authenticated", False):
        return Tenant.objects.none()
    if isinstance(user, APIKeyClient):
        return Tenant.objects.filter(pk=user.api_key.tenant_id)
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user, active=True)


def user_role(user, tenant: Tenant) -> str | None:
    if user.is_superuser:
        return Membership.Role.OWNER
    return (
        Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
    )


def resolve_tenant(request) -> Tenant | None:
    """Return the tenant this API request acts for; None only for a superuser acting globally."""
    user = request.user
    if isinstance(user, APIKeyClient):
        tenant = user.api_key.tenant
        if not tenant.active:
            raise TenantResolutionError(_("A empresa desta chave de API está desativada."))
        return tenant
    slug = request.headers.get(TENANT_HEADER, "").strip()
    tenants = user_tenants(user)
    if slug:
        tenant = tenants.filter(slug=slug).first()
        if tenant is None:
            raise TenantResolutionError(
                _("Você não pertence à empresa '%(slug)s' indicada no cabeçalho X-Tenant.")
                % {"slug": slug}
            )
        return tenant
    if user.is_superuser:
        return None
    mine = list(tenants[:2])
    if not mine:
        raise TenantResolutionError(_("Seu usuário não pertence a nenhuma empresa ativa."))
    if len(mine) > 1:
        raise TenantResolutionError(
            _(
                "Você pertence a mais de uma empresa: envie o cabeçalho X-Tenant com o identificador."
            )
        )
    return mine[0]
