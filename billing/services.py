"""Account services: tenants, memberships, subscriptions, API keys, billing settings."""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import quotas
from billing.models import (
    BillingSettings,
    LimitKind,
    Membership,
    Plan,
    Subscription,
    Tenant,
    TenantAPIKey,
)

DEFAULT_PLAN_NAME = "Básico"
FIRST_API_KEY_NAME = "Chave inicial"


@dataclass
class TenantResult:
    tenant: Tenant
    created: bool
    owner_password: str | None = None
    owner: object | None = None  # the owner user, when owner_email was given
    api_key: TenantAPIKey | None = None
    plain_key: str | None = None  # shown once, never stored


def plan_get_default() -> Plan:
    plan, _ = Plan.objects.get_or_create(
        name=DEFAULT_PLAN_NAME,
        defaults={"max_messages_per_month": 1000, "max_chatbots": 1, "max_staff": 3},
    )
    return plan


def subscription_start(*, tenant: Tenant, plan: Plan) -> Subscription:
    now = timezone.now()
    trial_end = now + timedelta(days=plan.trial_days) if plan.trial_days else None
    sub, _ = Subscription.objects.update_or_create(
        tenant=tenant,
        defaults={
            "plan": plan,
            "status": Subscription.Status.TRIALING if trial_end else Subscription.Status.ACTIVE,
            "current_period_start": now,
            "current_period_end": now + timedelta(days=30),
            "trial_end": trial_end,
            "past_due_since": None,
            "canceled_at": None,
        },
    )
    _audit(tenant=tenant, action="subscription.start", obj=sub, changes={"plan": plan.name})
    subscription_change(subscription=sub)
    return sub


# Plan, subscription and tenant changes go to the audit log, which lives in compliance, a
# layer above billing: compliance registers its writer at start-up (ComplianceConfig.ready).
_audit_writers: list[Callable[..., object]] = []


def audit_writer_register(writer: Callable[..., object]) -> None:
    """Write billing's audit entries with `writer(tenant=, actor=, action=, obj=, changes=)`."""
    if writer not in _audit_writers:
        _audit_writers.append(writer)


def _audit(**kwargs) -> None:
    for writer in _audit_writers:
        writer(actor=None, **kwargs)


@transaction.atomic
def membership_add(*, tenant: Tenant, email: str, role: str, password: str | None = None):
    """Give a staff user access to a tenant's admin; creates the user when new.

    Returns (user, password) where password is set only when this call created the user.
    A new member beyond the plan's seats is refused (ValidationError, nothing created);
    changing the role of a member the tenant already has is always allowed.
    """
    User = get_user_model()
    user = (
        User.objects.filter(email__iexact=email).first()
        or User.objects.filter(username=email).first()
    )
    if user is None or not Membership.objects.filter(user=user, tenant=tenant).exists():
        quotas.seat_limit_check(tenant=tenant, kind=LimitKind.STAFF, lock=True)
    new_password = None
    if user is None:
        new_password = password or secrets.token_urlsafe(12)
        user = User.objects.create_user(username=email, email=email, password=new_password)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    _membership, created = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    if created:
        _check_seats_on_commit(tenant_id=tenant.pk, kind=LimitKind.STAFF)
    return user, new_password


def _check_seats_on_commit(*, tenant_id: int, kind: str) -> None:
    from billing import alerts

    alerts.seats_check_on_commit(tenant_id=tenant_id, kind=kind)


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    plan_name: str | None = None,
    owner_email: str | None = None,
    owner_password: str | None = None,
    time_zone: str = "America/Sao_Paulo",
    domain: str = "",
    api_key_name: str | None = None,
) -> TenantResult:
    """Create a tenant with its subscription (trial when the plan has one), owner and, with
    `api_key_name`, a first API key (only when the tenant is new). Idempotent on the slug.

    The one path of `manage.py create_tenant`, `seed_demo`, the provisioning API and the
    admin's provisioning page (the last two through `tenant_provision`).
    """
    tenant, created = Tenant.objects.get_or_create(
        slug=slug, defaults={"name": name, "time_zone": time_zone, "domain": domain.lower()}
    )
    if not created and tenant.name != name:
        tenant.name = name
        tenant.save(update_fields=["name"])
    if created:
        _audit(tenant=tenant, action="tenant.create", obj=tenant, changes={"slug": slug})
    plan = Plan.objects.get(name=plan_name) if plan_name else plan_get_default()
    if created or not Subscription.objects.filter(tenant=tenant).exists():
        subscription_start(tenant=tenant, plan=plan)
    elif plan_name:
        Subscription.objects.filter(tenant=tenant).update(plan=plan)
        subscription_change(subscription=Subscription(tenant=tenant))
    password = owner = None
    if owner_email:
        owner, password = membership_add(
            tenant=tenant, email=owner_email, role=Membership.Role.OWNER, password=owner_password
        )
    api_key = plain_key = None
    if created and api_key_name:
        api_key, plain_key = api_key_create(tenant=tenant, name=api_key_name)
    return TenantResult(
        tenant=tenant,
        created=created,
        owner_password=password,
        owner=owner,
        api_key=api_key,
        plain_key=plain_key,
    )


def tenant_provision(
    *,
    name: str,
    slug: str,
    plan_name: str,
    owner_email: str,
    owner_password: str | None = None,
    time_zone: str = "America/Sao_Paulo",
    domain: str = "",
    api_key_name: str = FIRST_API_KEY_NAME,
) -> TenantResult:
    """Create a NEW tenant with its owner, subscription and first API key, all or nothing.

    Refuses (ValidationError keyed by field) a slug or domain in use, an unknown or inactive
    plan, a bad e-mail or time zone. The plain API key and a generated owner password are in
    the result, to be shown once.
    """
    errors: dict[str, list[str]] = {}
    slug, domain, owner_email = slug.strip(), domain.strip().lower(), owner_email.strip()
    try:
        validate_slug(slug)
    except ValidationError:
        errors["slug"] = [_("Use só letras, números, hífens e sublinhados.")]
    if Tenant.objects.filter(slug=slug).exists():
        errors["slug"] = [
            _("Já existe uma empresa com o identificador '%(slug)s'.") % {"slug": slug}
        ]
    if domain and Tenant.objects.filter(domain__iexact=domain).exists():
        errors["domain"] = [_("Já existe uma empresa com o domínio '%(d)s'.") % {"d": domain}]
    if not name.strip():
        errors["name"] = [_("Informe o nome da empresa.")]
    plan = Plan.objects.filter(name=plan_name).first()
    if plan is None or not plan.active:
        names = ", ".join(Plan.objects.filter(active=True).values_list("name", flat=True))
        errors["plan"] = [
            _("Plano '%(plan)s' não existe ou está inativo. Planos ativos: %(names)s.")
            % {"plan": plan_name, "names": names or "-"}
        ]
    try:
        validate_email(owner_email)
    except ValidationError:
        errors["owner_email"] = [_("Informe um e-mail válido para o proprietário.")]
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = [_("Fuso horário desconhecido: '%(tz)s'.") % {"tz": time_zone}]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        return tenant_create(
            slug=slug,
            name=name.strip(),
            plan_name=plan.name,
            owner_email=owner_email,
            owner_password=owner_password,
            time_zone=time_zone,
            domain=domain,
            api_key_name=api_key_name or FIRST_API_KEY_NAME,
        )


def subscription_change(*, subscription: Subscription) -> None:
    """Call after changing a subscription outside the payment webhook (e.g. the admin)."""
    from billing import quotas

    transaction.on_commit(partial(quotas.quota_state_invalidate, tenant_id=subscription.tenant_id))


def billing_settings_update(
    *,
    tenant: Tenant,
    alert_webhook_url: str | None = None,
    alert_webhook_secret: str | None = None,
    over_quota_notice: str | None = None,
) -> BillingSettings:
    """Change a tenant's alert URL, its secret (None or "" keeps it) and over-quota notice."""
    config, _created = BillingSettings.objects.get_or_create(tenant=tenant)
    if alert_webhook_url is not None:
        config.alert_webhook_url = alert_webhook_url.strip()
    if alert_webhook_secret:
        config.alert_webhook_secret = alert_webhook_secret
    if over_quota_notice is not None:
        config.over_quota_notice = over_quota_notice.strip()
    if config.alert_webhook_url and not config.alert_webhook_secret:
        raise ValidationError(
            {"alert_webhook_secret": _("Informe o segredo usado para assinar os avisos.")}
        )
    config.full_clean()
    config.save()
    return config


def api_key_create(*, tenant: Tenant, name: str) -> tuple[TenantAPIKey, str]:
    """Create an API key; the plain key is returned once and never stored."""
    return TenantAPIKey.objects.create_key(name=name, tenant=tenant)
