"""Account services: tenants, memberships, subscriptions, API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from billing.models import Membership, Plan, Subscription, Tenant, TenantAPIKey

DEFAULT_PLAN_NAME = "Básico"


@dataclass
class TenantResult:
    tenant: Tenant
    created: bool
    owner_password: str | None = None


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
        },
    )
    return sub


def membership_add(*, tenant: Tenant, email: str, role: str, password: str | None = None):
    """Give a staff user access to a tenant's admin; creates the user when new.

    Returns (user, password) where password is set only when this call created the user.
    """
    User = get_user_model()
    user = (
        User.objects.filter(email__iexact=email).first()
        or User.objects.filter(username=email).first()
    )
    new_password = None
    if user is None:
        new_password = password or secrets.token_urlsafe(12)
        user = User.objects.create_user(username=email, email=email, password=new_password)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role})
    return user, new_password


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    plan_name: str | None = None,
    owner_email: str | None = None,
    owner_password: str | None = None,
    time_zone: str = "America/Sao_Paulo",
) -> TenantResult:
    """Create a tenant with its subscription (and owner). Idempotent on the slug."""
    tenant, created = Tenant.objects.get_or_create(
        slug=slug, defaults={"name": name, "time_zone": time_zone}
    )
    if not created and tenant.name != name:
        tenant.name = name
        tenant.save(update_fields=["name"])
    plan = Plan.objects.get(name=plan_name) if plan_name else plan_get_default()
    if created or not Subscription.objects.filter(tenant=tenant).exists():
        subscription_start(tenant=tenant, plan=plan)
    elif plan_name:
        Subscription.objects.filter(tenant=tenant).update(plan=plan)
    password = None
    if owner_email:
        _, password = membership_add(
            tenant=tenant, email=owner_email, role=Membership.Role.OWNER, password=owner_password
        )
    return TenantResult(tenant=tenant, created=created, owner_password=password)


def api_key_create(*, tenant: Tenant, name: str) -> tuple[TenantAPIKey, str]:
    """Create an API key; the plain key is returned once and never stored."""
    return TenantAPIKey.objects.create_key(name=name, tenant=tenant)
