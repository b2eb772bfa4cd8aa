"""Staff seats: a plan's max_staff is a limit, not only an alert."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from billing import services
from billing.models import Membership

User = get_user_model()


@pytest.fixture
def full(subscription, plan):
    """A tenant whose plan has 2 seats, both taken."""
    plan.max_staff = 2
    plan.save()
    for email in ("dona@padaria.com.br", "caixa@padaria.com.br"):
        services.membership_add(tenant=subscription.tenant, email=email, role="agent")
    return subscription.tenant


def test_a_member_beyond_the_plan_is_refused_and_nothing_is_created(full):
    with pytest.raises(ValidationError) as refused:
        services.membership_add(tenant=full, email="novo@padaria.com.br", role="agent")

    assert "permite 2 usuário(s) da equipe" in refused.value.messages[0]
    assert not User.objects.filter(email="novo@padaria.com.br").exists()
    assert Membership.objects.filter(tenant=full).count() == 2


def test_a_full_plan_still_lets_a_members_role_change(full):
    user, _password = services.membership_add(
        tenant=full, email="caixa@padaria.com.br", role="admin"
    )

    assert Membership.objects.get(tenant=full, user=user).role == "admin"


def test_a_tenant_without_a_subscription_is_not_limited(tenant):
    for i in range(5):
        services.membership_add(tenant=tenant, email=f"pessoa{i}@loja.com.br", role="agent")

    assert Membership.objects.filter(tenant=tenant).count() == 5


def _inline_post(tenant, rows: list[tuple[int | None, int, bool]]) -> dict:
    """The tenant change form with its members inline: (membership id, user id, delete)."""
    data = {
        "name": tenant.name,
        "slug": tenant.slug,
        "domain": tenant.domain or "",
        "active": "on",
        "time_zone": tenant.time_zone,
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(sum(1 for pk, _u, _d in rows if pk)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, (pk, user_id, delete) in enumerate(rows):
        data[f"memberships-{i}-id"] = str(pk or "")
        data[f"memberships-{i}-tenant"] = str(tenant.pk)
        data[f"memberships-{i}-user"] = str(user_id)
        data[f"memberships-{i}-role"] = "agent"
        if delete:
            data[f"memberships-{i}-DELETE"] = "on"
    return data


def test_the_admin_refuses_a_member_beyond_the_plan_and_takes_a_swap(client, full):
    root = User.objects.create_superuser("root", "root@plataforma.com.br", "x")
    client.force_login(root)
    members = list(Membership.objects.filter(tenant=full).order_by("id"))
    newcomer = User.objects.create_user("novo", "novo@padaria.com.br", "x")
    url = f"/admin/billing/tenant/{full.pk}/change/"
    current = [(m.pk, m.user_id, False) for m in members]

    refused = client.post(url, _inline_post(full, [*current, (None, newcomer.pk, False)]))

    assert refused.status_code == 200  # the form again, with the error
    assert "permite 2 usuário(s) da equipe" in refused.content.decode()
    assert not Membership.objects.filter(user=newcomer).exists()

    swapped = client.post(
        url,
        _inline_post(
            full,
            [current[0], (members[1].pk, members[1].user_id, True), (None, newcomer.pk, False)],
        ),
    )

    assert swapped.status_code == 302
    assert set(Membership.objects.filter(tenant=full).values_list("user_id", flat=True)) == {
        members[0].user_id,
        newcomer.pk,
    }
