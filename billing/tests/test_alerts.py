"""Alerts at 80 % and 100 %: once per threshold and period, by email, in the admin, as a
Prometheus counter and as a signed POST to the tenant's URL."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from prometheus_client import REGISTRY

from billing import alerts, services
from billing.models import BillingAlert, LimitKind, Membership, Subscription
from chatbots import bots
from tests.factories import MembershipFactory

WEBHOOK_SECRET = "segredo-dos-avisos"


def raised(kind: str, threshold: int) -> float:
    value = REGISTRY.get_sample_value(
        "billing_alerts_total", {"kind": kind, "threshold": str(threshold)}
    )
    return value or 0.0


@pytest.fixture
def owner_email(tenant):
    return MembershipFactory(tenant=tenant, role=Membership.Role.OWNER).user.email


@pytest.fixture
def alert_url(httpserver, tenant, private_egress):
    """The tenant's own endpoint (pytest-httpserver on 127.0.0.1) for signed alerts."""
    httpserver.expect_request("/avisos", method="POST").respond_with_data("ok")
    services.billing_settings_update(
        tenant=tenant,
        alert_webhook_url=httpserver.url_for("/avisos"),
        alert_webhook_secret=WEBHOOK_SECRET,
    )
    return httpserver


def received(httpserver) -> list[dict]:
    """The alerts the tenant's URL got, after checking each one's signature."""
    out = []
    for request, _response in httpserver.log:
        body = request.get_data()
        timestamp = request.headers[alerts.TIMESTAMP_HEADER]
        expected = hmac.new(
            WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert request.headers[alerts.SIGNATURE_HEADER] == f"sha256={expected}"
        assert abs(int(timestamp) - timezone.now().timestamp()) < 60
        out.append(json.loads(body))
    return out


def test_crossing_80_and_100_percent_alerts_once_each_per_period(
    subscription, owner_email, alert_url, record, flush, celery_eager
):
    tenant = subscription.tenant  # the plan allows 10 messages a month
    before = raised("messages", 80), raised("messages", 100)

    record(tenant, messages_in=4, messages_out=3)
    flush()
    assert not BillingAlert.objects.exists()

    record(tenant, messages_in=1)  # 8 of 10
    flush()
    record(tenant, messages_out=1)  # 9 of 10: still only the 80 % alert
    flush()
    assert list(BillingAlert.objects.values_list("kind", "threshold")) == [("messages", 80)]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner_email]
    assert "80%" in mail.outbox[0].body

    record(tenant, messages_in=1)  # 10 of 10
    flush()
    record(tenant, messages_in=5)  # beyond: nothing new
    flush()
    flush()

    assert sorted(BillingAlert.objects.values_list("threshold", flat=True)) == [80, 100]
    assert len(mail.outbox) == 2
    assert (raised("messages", 80), raised("messages", 100)) == (before[0] + 1, before[1] + 1)
    bodies = received(alert_url)
    assert [(b["limit"], b["threshold"], b["tenant"]) for b in bodies] == [
        ("messages", 80, "padaria"),
        ("messages", 100, "padaria"),
    ]
    assert bodies[1]["used"] == 10 and bodies[1]["limit_value"] == 10
    assert BillingAlert.objects.filter(webhook_sent_at__isnull=False).count() == 2


def test_the_next_period_alerts_again(
    subscription, owner_email, record, flush, time_machine, celery_eager
):
    time_machine.move_to(timezone.now(), tick=True)
    record(subscription.tenant, messages_in=8)
    flush()
    time_machine.move_to(subscription.current_period_end + timedelta(days=1), tick=True)
    record(subscription.tenant, messages_in=8)
    flush()

    assert BillingAlert.objects.filter(kind="messages", threshold=80).count() == 2
    assert len(mail.outbox) == 2


def test_ai_tokens_alert_at_their_own_thresholds(subscription, owner_email, record, flush):
    record(subscription.tenant, ai_tokens=850)  # the plan allows 1000
    flush()

    alert = BillingAlert.objects.get()
    assert (alert.kind, alert.threshold) == (LimitKind.AI_TOKENS, 80)
    assert "tokens de ia" in alert.message.lower()


def test_a_failing_tenant_url_does_not_stop_the_email_or_the_notice(
    subscription, owner_email, httpserver, record, flush, celery_eager, private_egress
):
    httpserver.expect_request("/avisos").respond_with_data("fora do ar", status=503)
    services.billing_settings_update(
        tenant=subscription.tenant,
        alert_webhook_url=httpserver.url_for("/avisos"),
        alert_webhook_secret=WEBHOOK_SECRET,
    )
    record(subscription.tenant, messages_in=8)
    flush()

    alert = BillingAlert.objects.get()
    assert alert.webhook_sent_at is None
    # The admin shows what happened in our words, not the remote status or body.
    assert "nova tentativa" in alert.webhook_error
    assert "503" not in alert.webhook_error and "fora do ar" not in alert.webhook_error
    assert len(mail.outbox) == 1


def test_creating_chatbots_up_to_the_plan_alerts_at_100_percent(
    subscription, owner_email, django_capture_on_commit_callbacks, celery_eager
):
    tenant = subscription.tenant  # the plan allows 2 bots
    with django_capture_on_commit_callbacks(execute=True):
        bots.chatbot_create(tenant=tenant, name="Loja 1", provider="stub")
    assert not BillingAlert.objects.exists()  # 1 of 2
    with django_capture_on_commit_callbacks(execute=True):
        bots.chatbot_create(tenant=tenant, name="Loja 2", provider="stub")

    assert set(BillingAlert.objects.values_list("kind", "threshold")) == {
        ("chatbots", 80),
        ("chatbots", 100),
    }
    assert any("2 de 2" in m.body for m in mail.outbox)


def test_adding_staff_up_to_the_plan_alerts(
    subscription, plan, django_capture_on_commit_callbacks, celery_eager
):
    plan.max_staff = 2
    plan.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_add(
            tenant=subscription.tenant, email="dona@padaria.com.br", role=Membership.Role.OWNER
        )
    assert ("staff", 80) not in set(BillingAlert.objects.values_list("kind", "threshold"))
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_add(
            tenant=subscription.tenant, email="caixa@padaria.com.br", role=Membership.Role.AGENT
        )

    assert set(BillingAlert.objects.values_list("kind", "threshold")) == {
        ("staff", 80),
        ("staff", 100),
    }
    assert {tuple(m.to) for m in mail.outbox} == {("dona@padaria.com.br",)}


def test_staff_see_their_alerts_in_the_admin_and_not_other_tenants(
    client, subscription, other_tenant
):
    services.subscription_start(tenant=other_tenant, plan=subscription.plan)
    mine = alerts.alert_raise(
        tenant_id=subscription.tenant_id,
        kind=LimitKind.MESSAGES,
        threshold=80,
        period_start=subscription.current_period_start,
        used=8,
        limit=10,
    )
    alerts.alert_raise(
        tenant_id=other_tenant.pk,
        kind=LimitKind.MESSAGES,
        threshold=100,
        period_start=Subscription.objects.get(tenant=other_tenant).current_period_start,
        used=10,
        limit=10,
    )
    user = MembershipFactory(tenant=subscription.tenant, role=Membership.Role.AGENT).user
    client.force_login(user)

    response = client.get("/admin/billing/billingalert/")

    assert response.status_code == 200
    assert [a.pk for a in response.context["cl"].result_list] == [mine.pk]


def test_owners_set_the_alert_url_in_the_admin_and_the_secret_never_shows(client, tenant):
    from billing.models import BillingSettings

    owner = MembershipFactory(tenant=tenant, role=Membership.Role.OWNER).user
    client.force_login(owner)
    data = {
        "tenant": tenant.pk,
        "alert_webhook_url": "https://erp.padaria.com.br/avisos",
        "alert_webhook_secret": "",
        "over_quota_notice": "",
    }
    refused = client.post("/admin/billing/billingsettings/add/", data)
    assert refused.status_code == 200 and not BillingSettings.objects.exists()  # no secret

    client.post("/admin/billing/billingsettings/add/", {**data, "alert_webhook_secret": "s3nh@"})
    config = BillingSettings.objects.get(tenant=tenant)
    page = client.get(f"/admin/billing/billingsettings/{config.pk}/change/").content.decode()
    client.post(f"/admin/billing/billingsettings/{config.pk}/change/", data)  # secret left empty

    assert "s3nh@" not in page
    config.refresh_from_db()
    assert config.alert_webhook_secret == "s3nh@"  # kept


# --- The alert URL under the egress policy (config/egress.py) ---------------------------------


@pytest.fixture
def policy_on(settings):
    settings.EGRESS_ALLOW_PRIVATE = False
    settings.EGRESS_ALLOWED_HOSTS = []


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:6379/", "https://169.254.169.254/latest/meta-data/", "https://[::1]/"],
)
def test_an_alert_url_to_an_internal_address_is_refused_when_saved(client, tenant, policy_on, url):
    from django.core.exceptions import ValidationError

    from billing.models import BillingSettings

    with pytest.raises(ValidationError) as caught:
        services.billing_settings_update(
            tenant=tenant, alert_webhook_url=url, alert_webhook_secret=WEBHOOK_SECRET
        )
    assert "URL para avisos do plano" in caught.value.message_dict["alert_webhook_url"][0]

    client.force_login(MembershipFactory(tenant=tenant, role=Membership.Role.OWNER).user)
    data = {"tenant": tenant.pk, "alert_webhook_url": url, "alert_webhook_secret": "s"}
    response = client.post("/admin/billing/billingsettings/add/", {**data, "over_quota_notice": ""})
    assert "interno" in response.context["adminform"].form.errors["alert_webhook_url"][0]
    assert not BillingSettings.objects.filter(alert_webhook_url=url).exists()


def test_a_forced_internal_alert_url_is_never_connected_to(tenant, policy_on, trap):
    from billing.models import BillingSettings

    BillingSettings.objects.create(
        tenant=tenant, alert_webhook_url=f"{trap.url}/", alert_webhook_secret=WEBHOOK_SECRET
    )
    alert = BillingAlert.objects.create(
        tenant=tenant,
        kind=LimitKind.MESSAGES,
        threshold=80,
        period_start=timezone.now(),
        message="80% das mensagens",
    )

    assert alerts.alert_webhook(alert_id=alert.pk) is False

    alert.refresh_from_db()
    assert alert.webhook_error.startswith("URL recusada:") and "interno" in alert.webhook_error
    assert trap.connections() == 0


def test_the_admin_never_shows_the_remote_answer(tenant, httpserver, private_egress):
    from billing.models import BillingSettings

    httpserver.expect_request("/avisos").respond_with_data("Redis: NOAUTH SEGREDO", status=401)
    BillingSettings.objects.create(
        tenant=tenant,
        alert_webhook_url=httpserver.url_for("/avisos"),
        alert_webhook_secret=WEBHOOK_SECRET,
    )
    alert = BillingAlert.objects.create(
        tenant=tenant, kind=LimitKind.MESSAGES, threshold=80, period_start=timezone.now()
    )

    assert alerts.alert_webhook(alert_id=alert.pk) is False  # a 4xx is not retried

    alert.refresh_from_db()
    assert "não aceitou" in alert.webhook_error
    assert "401" not in alert.webhook_error and "SEGREDO" not in alert.webhook_error


# --- Notices that are not plan limits: news from Meta about the WhatsApp account ---------------


def test_a_notice_is_emailed_to_the_owners_and_posted_signed_once(
    tenant, alert_url, celery_eager, django_capture_on_commit_callbacks
):
    owner = MembershipFactory(tenant=tenant, role=Membership.Role.OWNER).user
    MembershipFactory(tenant=tenant, role=Membership.Role.AGENT)
    when = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        first = alerts.notice_raise(
            tenant_id=tenant.pk, source="inbound:7", message="Conta restrita.", occurred_at=when
        )
        again = alerts.notice_raise(
            tenant_id=tenant.pk, source="inbound:7", message="Conta restrita.", occurred_at=when
        )

    assert first is not None and again is None
    assert BillingAlert.objects.get().kind == LimitKind.WHATSAPP
    (email,) = mail.outbox
    assert email.to == [owner.email]
    assert email.subject == "[WhatsApp] Padaria Pão Quente: aviso da Meta"
    assert "Conta restrita." in email.body
    (body,) = received(alert_url)
    assert (body["type"], body["tenant"], body["message"]) == (
        "whatsapp.account_notice",
        "padaria",
        "Conta restrita.",
    )


def test_two_events_at_the_same_moment_are_two_notices(tenant):
    when = timezone.now()

    for source in ("inbound:1", "inbound:2"):
        alerts.notice_raise(tenant_id=tenant.pk, source=source, message="x", occurred_at=when)

    assert BillingAlert.objects.filter(kind=LimitKind.WHATSAPP).count() == 2
