"""Who may do what through the API: the caller's role in the request's tenant.

Every view declares its rules in `required_roles`, a mapping from an action (a viewset's
`list`, `partial_update`, `mudar_status`…) or, for a plain APIView, an HTTP method in lower
case (`get`, `post`) to the roles allowed. What a view does not declare follows the default:

- reads (GET, HEAD, OPTIONS): every member of the tenant (`MEMBERS`);
- writes: owners and admins only (`MANAGERS`).

A refusal is a 403 naming the role, the operation and the roles that may do it; the
operation is worded from the action and the model ("excluir chatbots"), or taken from the
view's `role_operations` mapping (same keys) when that would not read well.

So a new viewset is safe before anyone thinks about it: agents read, and they write only
where a view says so: what billing.admin_tenancy lets them do in the admin (a
conversation's status, a customer's name, phone and tags, the appointment actions), and
moving orders along their statuses.

The role is the one the user has in `request.tenant` (resolved per request by
billing.tenancy from the credential and the X-Tenant header), never their highest role in
any tenant: an agent of A who owns B is an agent for every request that acts for A.

An API key acts as an admin of its tenant (`API_KEY_ROLE`): only owners and admins create
keys (the admin's key page needs one of those roles in the key's tenant; the
`create_api_key` command and the provisioning endpoint are for operators and superusers),
so a key can do what its creator may, and no more. A superuser acts as an owner.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, permissions

from billing.models import Membership
from billing.tenancy import APIKeyClient, TenantResolutionError, resolve_tenant, user_role

Role = Membership.Role

MEMBERS: frozenset[str] = frozenset(Role.values)
MANAGERS: frozenset[str] = frozenset({Role.OWNER, Role.ADMIN})
API_KEY_ROLE: str = Role.ADMIN

# What each action does, for the refusal message ("não permite excluir chatbots").
VERBS = {
    "get": gettext_lazy("ver"),
    "list": gettext_lazy("ver"),
    "retrieve": gettext_lazy("ver"),
    "metadata": gettext_lazy("ver"),
    "create": gettext_lazy("criar"),
    "update": gettext_lazy("alterar"),
    "partial_update": gettext_lazy("alterar"),
    "destroy": gettext_lazy("excluir"),
}


def rule_key(view, method: str) -> str:
    """The name a view's rules use for this request: the viewset action, else the method."""
    return getattr(view, "action", None) or method.lower()


def roles_for(view, key: str, method: str) -> frozenset[str]:
    """The roles allowed to run `key` on `view` (a class or an instance)."""
    rules: Mapping[str, frozenset[str]] = getattr(view, "required_roles", None) or {}
    if key in rules:
        return frozenset(rules[key])
    return MEMBERS if method.upper() in permissions.SAFE_METHODS else MANAGERS


def request_role(request) -> str | None:
    """The caller's role in `request.tenant` (cached on the request)."""
    if not hasattr(request, "tenant_role"):
        user = request.user
        tenant = getattr(request, "tenant", None)
        if isinstance(user, APIKeyClient):
            role = API_KEY_ROLE
        elif user.is_superuser:
            role = Role.OWNER
        elif tenant is None:
            role = None
        else:
            role = user_role(user, tenant)
        request.tenant_role = role
    return request.tenant_role


def role_labels(roles) -> str:
    """ "Proprietário ou Administrador", in the order of Membership.Role."""
    labels = [str(label) for value, label in Role.choices if value in roles]
    if len(labels) <= 1:
        return "".join(labels)
    return _("%(first)s ou %(last)s") % {"first": ", ".join(labels[:-1]), "last": labels[-1]}


def _subject(view) -> str:
    queryset = getattr(view, "queryset", None)
    if queryset is not None:
        return str(queryset.model._meta.verbose_name_plural)
    return _("este recurso")


def _operation(view, key: str) -> str:
    declared = (getattr(view, "role_operations", None) or {}).get(key)
    if declared:
        return str(declared)
    subject = _subject(view)
    if key in VERBS:
        return f"{VERBS[key]} {subject}"
    handler = getattr(view, key, None)
    url_path = getattr(handler, "url_path", None)
    if url_path:  # a viewset's extra action, e.g. "test-connection"
        return _("usar “%(action)s” em %(subject)s") % {"action": url_path, "subject": subject}
    return _("%(method)s em %(subject)s") % {"method": key.upper(), "subject": subject}


class TenantRolePermission(permissions.BasePermission):
    """Authenticated, acting for a tenant the credential belongs to, with a role the view
    allows for this action (see the module docstring).

    Sets `request.tenant` (None only for a superuser acting across tenants) and
    `request.tenant_role`. A refusal is a 403 whose message names the role, the operation
    and the roles that may do it.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        try:
            request.tenant = resolve_tenant(request)
        except TenantResolutionError as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        key = rule_key(view, request.method)
        allowed = roles_for(view, key, request.method)
        role = request_role(request)
        if role in allowed:
            return True
        raise exceptions.PermissionDenied(self._refusal(request, view, key, role, allowed))

    def _refusal(self, request, view, key: str, role: str | None, allowed) -> str:
        tenant = getattr(request, "tenant", None)
        values = {
            "role": Role(role).label if role else "",
            "tenant": tenant.name if tenant is not None else "",
            "operation": _operation(view, key),
            "needed": role_labels(allowed),
        }
        if role is None:
            return _("Você não é membro da empresa “%(tenant)s”.") % values
        return (
            _(
                "Seu papel na empresa “%(tenant)s” é %(role)s, que não permite %(operation)s: "
                "é preciso ser %(needed)s."
            )
            % values
        )
