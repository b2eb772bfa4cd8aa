"""POST /api/billing/webhook/: signed, fresh, idempotent payment events."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from billing import quotas
from billing.models import PaymentEvent, Subscription
from billing.services import subscription_start

SECRET = "segredo-do-provedor"
URL = "/api/billing/webhook/"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.BILLING_WEBHOOK_SECRET = SECRET


def send(client, event: dict, *, secret=SECRET, timestamp=None, headers=None, raw=None):
    """POST like a provider: body signed as HMAC-SHA256("<timestamp>." + body)."""
    body = raw if raw is not None else json.dumps(event).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    extra = {"HTTP_X_BILLING_TIMESTAMP": ts, "HTTP_X_BILLING_SIGNATURE": f"sha256={signature}"}
    for name, value in (headers or {}).items():
        extra["HTTP_" + name.upper().replace("-", "_")] = value
    return client.post(URL, data=body, content_type="application/json", **extra)


def event(type_: str, event_id: str = "evt_1", tenant: str = "padaria", **data) -> dict:
    return {"id": event_id, "type": type_, "tenant": tenant, "data": data}


def snapshot(sub: Subscription) -> tuple:
    sub.refresh_from_db()
    return (sub.status, sub.current_period_start, sub.current_period_end, sub.past_due_since)


def test_a_failed_payment_makes_the_subscription_past_due_once(client, subscription):
    response = send(client, event("payment_failed", "evt_fail_1"))
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "applied", "event": "evt_fail_1"}
    after_first = snapshot(subscription)
    assert after_first[0] == Subscription.Status.PAST_DUE
    assert after_first[3] is not None

    again = send(client, event("payment_failed", "evt_fail_1"))

    assert again.json()["status"] == "duplicate"
    assert snapshot(subscription) == after_first
    assert PaymentEvent.objects.count() == 1


def test_a_duplicated_payment_extends_the_period_once(client, subscription):
    end = subscription.current_period_end
    first = send(client, event("payment_succeeded", "evt_pay_1"))
    second = send(client, event("payment_succeeded", "evt_pay_1"))

    assert first.json()["status"] == "applied"
    assert second.json()["status"] == "duplicate"
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.current_period_end == quotas.add_months(end, 1)


def test_paying_a_past_due_subscription_reactivates_it_from_now(client, subscription):
    Subscription.objects.filter(pk=subscription.pk).update(
        status=Subscription.Status.PAST_DUE,
        past_due_since=timezone.now() - timedelta(days=10),
        current_period_end=timezone.now() - timedelta(days=10),
    )
    response = send(client, event("payment_succeeded", "evt_pay_2", plan=subscription.plan.name))

    assert response.status_code == 200
    status, start, end, since = snapshot(subscription)
    assert status == Subscription.Status.ACTIVE and since is None
    assert abs(start - timezone.now()) < timedelta(minutes=1)
    assert end == quotas.add_months(start, 1)


def test_a_cancellation_stops_the_tenant(client, subscription):
    send(client, event("subscription_canceled", "evt_cancel"))

    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    assert not quotas.sending_allowed(tenant_id=subscription.tenant_id)


@pytest.mark.parametrize(
    "tamper",
    [
        # Callables: a timestamp taken at collection is no longer 6 minutes away when a long
        # run reaches the test.
        pytest.param(lambda: {"secret": "outro-segredo"}, id="wrong secret"),
        pytest.param(lambda: {"timestamp": int(time.time()) - 6 * 60}, id="6 minutes old"),
        pytest.param(lambda: {"timestamp": int(time.time()) + 6 * 60}, id="6 minutes ahead"),
        pytest.param(lambda: {"timestamp": "ontem"}, id="not a unix time"),
    ],
)
def test_a_bad_or_stale_signature_is_refused_and_changes_nothing(
    client, subscription, tamper, caplog
):
    before = snapshot(subscription)

    with caplog.at_level("WARNING", logger="billing.api.views"):
        response = send(client, event("subscription_canceled", "evt_evil"), **tamper())

    assert response.status_code == 401
    # One answer for every reason; the reason is the server's (log and metric).
    assert response.json()["error"] == "unauthorized"
    reasons = {getattr(r, "reason", None) for r in caplog.records}
    assert reasons & {"bad_signature", "stale_timestamp", "bad_timestamp"}
    assert snapshot(subscription) == before
    assert not PaymentEvent.objects.exists()


def test_a_body_changed_after_signing_is_refused(client, subscription):
    body = json.dumps(event("payment_succeeded", "evt_x")).encode()
    ts = str(int(time.time()))
    signature = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    tampered = body.replace(b"payment_succeeded", b"subscription_canceled")

    response = client.post(
        URL,
        data=tampered,
        content_type="application/json",
        HTTP_X_BILLING_TIMESTAMP=ts,
        HTTP_X_BILLING_SIGNATURE=f"sha256={signature}",
    )

    assert response.status_code == 401
    assert snapshot(subscription)[0] == Subscription.Status.ACTIVE


def test_without_a_configured_secret_everything_is_refused(client, subscription, settings):
    settings.BILLING_WEBHOOK_SECRET = ""
    response = send(client, event("subscription_canceled"), secret="")
    assert response.status_code == 503
    assert "BILLING_WEBHOOK_SECRET" in response.json()["detail"]
    assert snapshot(subscription)[0] == Subscription.Status.ACTIVE


def test_the_tenant_can_be_named_by_the_company_domain_header(client, subscription):
    tenant = subscription.tenant
    tenant.domain = "padariapaoquente.com.br"
    tenant.save()
    payload = {"id": "evt_d", "type": "payment_failed"}

    response = send(client, payload, headers={"X-Company-Domain": "PadariaPaoQuente.com.br"})

    assert response.status_code == 200
    assert snapshot(subscription)[0] == Subscription.Status.PAST_DUE


def test_an_unknown_tenant_or_event_type_is_refused(client, subscription, other_tenant):
    assert send(client, event("payment_failed", tenant="nao-existe")).status_code == 404
    assert send(client, event("invoice_created", "evt_i")).status_code == 400
    mismatch = send(client, event("payment_failed"), headers={"X-Company-Domain": "clinica"})
    assert mismatch.status_code == 400
    assert send(client, {}, raw=b"{not json").status_code == 400
    assert snapshot(subscription)[0] == Subscription.Status.ACTIVE
    assert not PaymentEvent.objects.exists()


def test_an_event_older_than_one_applied_changes_nothing(client, subscription):
    now = int(time.time())
    send(client, {**event("payment_succeeded", "evt_new"), "created": now})
    after = snapshot(subscription)

    late = send(client, {**event("payment_failed", "evt_old"), "created": now - 3600})

    assert late.json()["status"] == "stale"
    assert snapshot(subscription) == after


def test_a_first_payment_creates_the_missing_subscription(client, tenant, plan):
    response = send(client, event("payment_succeeded", "evt_first", plan=plan.name))

    assert response.json()["status"] == "applied"
    sub = Subscription.objects.get(tenant=tenant)
    assert (sub.status, sub.plan) == (Subscription.Status.ACTIVE, plan)


def test_only_the_named_tenants_subscription_changes(client, subscription, other_tenant, plan):
    theirs = subscription_start(tenant=other_tenant, plan=plan)
    before = snapshot(theirs)
    send(client, event("subscription_canceled", "evt_c", tenant="padaria"))
    assert snapshot(theirs) == before


def _readme() -> str:
    from pathlib import Path

    from django.conf import settings

    return (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")


def test_the_readme_signature_example_signs_what_the_webhook_accepts():
    import contextlib
    import io
    import re

    from billing import signing

    readme = _readme()
    match = re.search(r"```python\n(# billing-webhook-signature-example\n.*?)```", readme, re.S)
    assert match, "README.md must carry the payment webhook signature example"
    out, namespace = io.StringIO(), {}
    with contextlib.redirect_stdout(out):
        exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102 (our README)

    printed = out.getvalue().strip()
    assert printed == signing.sign(
        secret=namespace["secret"], timestamp=namespace["timestamp"], body=namespace["body"]
    )
    assert printed in readme.replace(match.group(1), "")  # the value the README announces


def test_a_signature_of_the_raw_body_alone_is_accepted_with_a_fresh_timestamp(client, subscription):
    body = json.dumps(event("payment_failed", "evt_body_only")).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    def post(ts, sig):
        return client.post(
            URL,
            data=body,
            content_type="application/json",
            HTTP_X_BILLING_TIMESTAMP=str(ts),
            HTTP_X_BILLING_SIGNATURE=sig,
        )

    stale = post(int(time.time()) - 3600, f"sha256={signature}")
    assert stale.status_code == 401
    assert snapshot(subscription)[0] == Subscription.Status.ACTIVE

    fresh = post(int(time.time()), signature)  # the "sha256=" prefix is optional
    assert fresh.status_code == 200, fresh.content
    assert snapshot(subscription)[0] == Subscription.Status.PAST_DUE

    replayed = post(int(time.time()), f"sha256={signature}")  # same body, new timestamp
    assert replayed.json()["status"] == "duplicate"
    assert PaymentEvent.objects.count() == 1


def test_an_unsigned_request_gets_the_same_401_whichever_tenant_it_names(client, subscription):
    known = send(client, event("payment_failed", tenant="padaria"), secret="chute")
    unknown = send(client, event("payment_failed", tenant="nao-existe"), secret="chute")

    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 401


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_a_bad_content_length_is_a_400(client, subscription, length):
    body = json.dumps(event("payment_failed")).encode()
    response = client.post(URL, data=body, content_type="application/json", CONTENT_LENGTH=length)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_content_length"
