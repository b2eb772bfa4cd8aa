"""The audit log: who changed what, when and from where. Append-only.

Services call `record(...)`. Who acts and from which IP come from the *audit context*: the
request being served (set per request by `AuditContextMiddleware`, so a service deep down
records the right actor without being passed the request), or a job name set with
`acting_as(system_actor("retention"))`; with neither, the actor is "system".

Generic writers, so no admin or API write on tenant data goes unrecorded:
* `AuditedAdminMixin` (in billing.admin_tenancy.TenantScopedAdmin): Django's log_addition,
  log_change and log_deletions hooks, with a field-level diff;
* `AuditedViewSetMixin` (in billing.api.viewsets.TenantScopedViewSet): every successful
  POST/PUT/PATCH/DELETE of a viewset, whatever method the subclass overrides.

Diffs never hold secrets (encrypted fields and secret-looking names become "***") nor
message texts ("[omitido]").
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.http import HttpRequest

from compliance.models import AuditLog
from config.client_ip import client_ip
from config.fields import EncryptedTextField
from config.logging import request_id_var

logger = logging.getLogger(__name__)

SECRET = "***"
OMITTED = "[omitido]"
# Field names that hold secrets whatever their type (hashed API keys, tokens, passwords).
SECRET_NAME_RE = re.compile(r"(?i)(secret|token|password|passwd|api_?key|hashed_key|pepper)")
# Message contents: the audit log records that a message changed, never what it said.
TEXT_NAMES = frozenset({"text", "body", "message_text", "payload", "raw"})
MAX_VALUE_CHARS = 500  # a diff is for reading, not a copy of the data

# --- Actors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    type: str
    label: str
    user_id: int | None = None
    api_key_id: str | None = None


def system_actor(job: str) -> Actor:
    return Actor(type=AuditLog.ActorType.SYSTEM, label=f"system:{job}"[:200])


def customer_actor(cliente) -> Actor:
    """The customer themself (a keyword on WhatsApp). Labelled by id only: no phone here."""
    return Actor(type=AuditLog.ActorType.CUSTOMER, label=f"cliente:{cliente.pk}")


def actor_from(value: Any) -> Actor:
    """An Actor from a user, an API-key client or key, an Actor, a job name, or None
    (the current audit context)."""
    from billing.models import TenantAPIKey
    from billing.tenancy import APIKeyClient

    if value is None:
        return current_actor()
    if isinstance(value, Actor):
        return value
    if isinstance(value, str):
        return system_actor(value)
    if isinstance(value, APIKeyClient):
        value = value.api_key
    if isinstance(value, TenantAPIKey):
        return Actor(
            type=AuditLog.ActorType.API_KEY,
            label=f"api-key:{value.prefix} ({value.name})"[:200],
            api_key_id=value.pk,
        )
    if getattr(value, "is_authenticated", False) and getattr(value, "pk", None) is not None:
        return Actor(
            type=AuditLog.ActorType.USER,
            label=(value.get_username() if hasattr(value, "get_username") else str(value))[:200],
            user_id=value.pk,
        )
    return system_actor("anonymous")


# --- The audit context -------------------------------------------------------------------

_request_var: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "audit_request", default=None
)
_actor_var: contextvars.ContextVar[Actor | None] = contextvars.ContextVar(
    "audit_actor", default=None
)


class AuditContextMiddleware:
    """Makes the request the audit context of everything it runs.

    The request itself is kept, not its user: DRF authenticates inside the view and then
    sets `request.user` on this same HttpRequest (API key, JWT), so the actor is read when
    an entry is written. Must come after AuthenticationMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_var.set(request)
        try:
            return self.get_response(request)
        finally:
            _request_var.reset(token)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Run a block (a job, a management command) as `actor`."""
    token = _actor_var.set(actor)
    try:
        yield
    finally:
        _actor_var.reset(token)


def current_actor() -> Actor:
    actor = _actor_var.get()
    if actor is not None:
        return actor
    request = _request_var.get()
    if request is not None:
        return actor_from_request(request)
    return system_actor("unknown")


def current_ip() -> str:
    request = _request_var.get()
    return ip_from_request(request) if request is not None else ""


def actor_from_request(request: HttpRequest) -> Actor:
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return system_actor("anonymous")
    return actor_from(user)


def ip_from_request(request: HttpRequest) -> str:
    """The client's address, by the project's one rule (config.client_ip: NUM_PROXIES,
    CLIENT_IP_HEADER); "" when unreadable."""
    return client_ip(request)


# --- Snapshots and diffs -----------------------------------------------------------------


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            return value[:MAX_VALUE_CHARS] + "…"
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _redact_value(str(k), _plain(v)) for k, v in value.items()}
    return str(value)[:MAX_VALUE_CHARS]


def _redact_value(name: str, value: Any) -> Any:
    if isinstance(value, list):  # a diff's [before, after], or a list under a secret key
        return [_redact_value(name, v) for v in value]
    if value == SECRET or value == OMITTED:
        return value
    if name.lower() in TEXT_NAMES:
        return OMITTED if value not in (None, "", {}, []) else value
    if SECRET_NAME_RE.search(name):
        return SECRET if value not in (None, "") else value
    return value


def redact(changes: dict | None) -> dict:
    """A service's `changes` with secrets and message texts replaced (keys checked deeply)."""
    return _plain(changes or {})


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The object's concrete fields as JSON-able values, secrets and texts redacted.

    Secrets are kept as a marker that still shows whether they changed: "***" set, "" unset,
    plus a private comparison key that `diff` uses and never stores.
    """
    out: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        name = field.attname
        value = field.value_from_object(obj)
        if isinstance(field, EncryptedTextField) or SECRET_NAME_RE.search(field.name):
            out[name] = SECRET if value else ""
            out[f"__cmp_{name}"] = hash(repr(value))  # process-local; never stored
            continue
        if field.name.lower() in TEXT_NAMES:
            out[name] = OMITTED if value not in (None, "", {}, []) else ""
            out[f"__cmp_{name}"] = hash(repr(value))
            continue
        out[name] = _plain(value)
    return out


def diff(before: dict | None, after: dict | None) -> dict[str, list]:
    """{field: [before, after]} for the fields that changed (all fields for a create/delete)."""
    before, after = before or {}, after or {}
    out = {}
    for name in sorted(set(before) | set(after)):
        if name.startswith("__cmp_"):
            continue
        cmp = f"__cmp_{name}"
        old, new = before.get(name), after.get(name)
        if cmp in before or cmp in after:
            changed = before.get(cmp) != after.get(cmp)
        else:
            changed = old != new
        if changed:
            out[name] = [old, new]
    return out


def object_ref(obj: models.Model) -> tuple[str, str]:
    return obj._meta.label_lower, str(obj.pk)


# --- Writing -----------------------------------------------------------------------------


def record(
    *,
    tenant,
    actor,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    changes: dict | None = None,
    ip: str = "",
) -> AuditLog:
    """Append one entry. `actor`: a user, API key (or its request client), an Actor, a job
    name, or None for whoever the audit context says. `tenant`: a Tenant, its id, or None
    (taken from `obj` when it has one). `changes` is redacted before it is stored."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk if obj.pk is not None else "")
        if tenant is None:
            tenant = getattr(obj, "tenant_id", None)
    who = actor_from(actor)
    tenant_id = getattr(tenant, "pk", tenant)
    return AuditLog.objects.create(
        tenant_id=tenant_id,
        actor_type=who.type,
        actor_user_id=who.user_id,
        actor_api_key_id=who.api_key_id,
        actor_label=who.label,
        action=action[:64],
        object_type=object_type[:100],
        object_id=str(object_id)[:64],
        changes=redact(changes),
        ip=ip or current_ip() or None,
        request_id=request_id_var.get()[:64],
    )


def record_quietly(**kwargs) -> AuditLog | None:
    """`record`, for writers that already committed their change: a failure to audit is
    logged loudly but does not turn a done change into an error response."""
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction stays usable
            return record(**kwargs)
    except Exception:
        logger.exception("audit entry could not be written", extra={"action": kwargs.get("action")})
        return None


# --- Generic writers: admin and API ------------------------------------------------------


class AuditedAdminMixin:
    """Records every add, change and delete made through a ModelAdmin, with a diff.

    Django calls log_addition/log_change/log_deletions after saving (before deleting); the
    state before a change is taken when the admin loads the object (get_object).
    """

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "POST":
            request._audit_before = getattr(request, "_audit_before", {})
            request._audit_before[object_ref(obj)] = snapshot(obj)
        return obj

    def _audit_after(self, obj) -> dict:
        fresh = type(obj)._base_manager.filter(pk=obj.pk).first()
        return snapshot(fresh if fresh is not None else obj)

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        record_quietly(
            tenant=getattr(obj, "tenant_id", None),
            actor=request.user,
            action="create",
            obj=obj,
            changes=diff(None, self._audit_after(obj)),
            ip=ip_from_request(request),
        )
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        before = getattr(request, "_audit_before", {}).get(object_ref(obj))
        changes = diff(before, self._audit_after(obj)) if before is not None else {}
        if not changes:
            # list_editable saves, or only inline rows changed: Django's own summary (field
            # and object names, no values).
            changes = {"admin_message": message}
        record_quietly(
            tenant=getattr(obj, "tenant_id", None),
            actor=request.user,
            action="update",
            obj=obj,
            changes=changes,
            ip=ip_from_request(request),
        )
        return entry

    def log_deletions(self, request, queryset):
        entries = super().log_deletions(request, queryset)
        for obj in queryset:
            record_quietly(
                tenant=getattr(obj, "tenant_id", None),
                actor=request.user,
                action="delete",
                obj=obj,
                changes=diff(snapshot(obj), None),
                ip=ip_from_request(request),
            )
        return entries


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
VIEWSET_ACTIONS = {
    "create": "create",
    "update": "update",
    "partial_update": "update",
    "destroy": "delete",
}


class AuditedViewSetMixin:
    """Records every successful write through a viewset: create, update, delete and custom
    actions (e.g. `POST pedidos/{id}/status/` is recorded as "mudar_status" with its diff).

    Hooks the response, not perform_*: subclasses override those (and `create`) freely.
    The state before is taken when the view loads the object (get_object).
    """

    audit = True

    def get_object(self):
        obj = super().get_object()
        if self.request.method not in SAFE_METHODS:
            self._audit_obj = obj
            self._audit_obj_id = str(obj.pk)  # a deleted instance loses its pk
            self._audit_before = snapshot(obj)
        return obj

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.audit and request.method not in SAFE_METHODS and 200 <= response.status_code < 300:
            self._audit_write(request, response)
        return response

    def _audit_model(self):
        queryset = getattr(self, "queryset", None)
        if queryset is not None:
            return queryset.model
        return self.get_queryset().model

    def _audit_write(self, request, response) -> None:
        try:
            model = self._audit_model()
            action = VIEWSET_ACTIONS.get(self.action or "", self.action or request.method.lower())
            before = getattr(self, "_audit_before", None)
            obj = getattr(self, "_audit_obj", None)
            object_id = getattr(self, "_audit_obj_id", "")
            if not object_id and isinstance(response.data, dict) and "id" in response.data:
                object_id = str(response.data["id"])
            after = None
            if object_id and action != "delete":
                fresh = model._base_manager.filter(pk=object_id).first()
                after = snapshot(fresh) if fresh is not None else None
            if action == "delete":
                changes = diff(before, None)
            else:
                changes = diff(before, after)
            tenant = getattr(request, "tenant", None)
            if tenant is None and obj is not None:
                tenant = getattr(obj, "tenant_id", None)
        except Exception:
            logger.exception("audit entry could not be prepared", extra={"path": request.path})
            return
        record_quietly(
            tenant=tenant,
            actor=request.user,
            action=action,
            object_type=model._meta.label_lower,
            object_id=object_id,
            changes=changes,
            ip=ip_from_request(request),
        )


# --- Logins (admin and API) -------------------------------------------------------------
#
# Django's own events (no service of ours runs): user_logged_in and user_login_failed, and
# django-axes' user_locked_out, connected in compliance.apps. Each entry goes to every tenant
# the account works for (so each tenant's log shows it), or to no tenant when no account has
# that username. Passwords never reach them: Django masks them in the signal's credentials
# and only the username, masked, is kept.


def mask_identity(value: str | None) -> str:
    """A typed username as the log keeps it: enough to recognise, not to reuse (people type
    their password in the username box). "maria@padaria.com" -> "m***@p***.com"."""
    value = (value or "").strip()
    if not value:
        return ""
    local, at, domain = value.partition("@")
    if not at:
        return value[:2] + "***"
    name, dot, suffix = domain.rpartition(".")
    domain = (name[:1] + "***" + dot + suffix[:10]) if dot else domain[:1] + "***"
    return local[:1] + "***@" + domain


def _account_named(username: str | None):
    if not username:
        return None
    User = get_user_model()
    lookup = {f"{User.USERNAME_FIELD}__iexact": username.strip()}
    return User._default_manager.filter(**lookup).order_by("pk").first()


def _login_tenant_ids(user) -> list[int | None]:
    from billing.models import Membership

    if user is None:
        return [None]
    return list(
        Membership.objects.filter(user=user, tenant__active=True).values_list(
            "tenant_id", flat=True
        )
    ) or [None]


def _login_record(request, *, action: str, actor, user, changes: dict) -> None:
    ip = ip_from_request(request) if request is not None else ""
    path = getattr(request, "path", "")[:200]
    for tenant_id in _login_tenant_ids(user):
        record_quietly(
            tenant=tenant_id,
            actor=actor,
            action=action,
            object_type=user._meta.label_lower if user is not None else "",
            object_id=str(user.pk) if user is not None else "",
            changes={"path": path, **changes},
            ip=ip,
        )


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    _login_record(request, action="login", actor=user, user=user, changes={})


def on_user_login_failed(sender, credentials=None, request=None, **kwargs) -> None:
    """A wrong username or password (or a refused login of a locked-out account)."""
    if request is None:  # authenticate() outside a request (a script): nobody to record
        return
    if getattr(request, "axes_locked_out", False) and (
        getattr(request, "axes_failures_since_start", None) is None
    ):
        # Refused because of a lockout, without being counted: the lockout itself is in the
        # log, and an attacker who keeps trying must not fill it with one entry per try.
        return
    username = (credentials or {}).get(get_user_model().USERNAME_FIELD)
    username = username if isinstance(username, str) else ""
    _login_record(
        request,
        action="login.failed",
        actor=system_actor("anonymous"),
        user=_account_named(username),
        changes={"username": mask_identity(username)},
    )


def on_user_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """django-axes' user_locked_out: a username or an address reached the failure limit.

    Axes sends it again for every attempt refused during the lockout; only the failure that
    reached the limit (the one axes counted) is recorded.
    """
    failures = getattr(request, "axes_failures_since_start", None)
    if request is None or failures is None:
        return
    _login_record(
        request,
        action="login.locked",
        actor=system_actor("anonymous"),
        user=_account_named(username),
        changes={"username": mask_identity(username), "failures": failures},
    )
