"""Event webhooks: a receiver on 127.0.0.1 gets every event type, signed; one answering 500
gets it again when the retry is due; the log shows each attempt; private addresses are
refused; and a tenant never sees another's subscriptions or deliveries."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agenda import services as agenda_services
from agenda.models import Agendamento, Servico
from chatbots import engine
from chatbots.models import Conversation, Message
from chatbots.outbox import watch
from compliance import consent
from compliance.models import ConsentEvent
from inbox import services as inbox_services
from integrations import services, tasks
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.tests.conftest import SECRET
from pedidos import services as pedidos_services
from pedidos.status import StatusPedido
from tests.factories import ChatbotFactory, InboundEventFactory, ProdutoFactory

PHONE = "5511987654321"


def _customer_writes(bot, text="oi"):
    engine.process_event(InboundEventFactory(chatbot=bot, sender=PHONE, text=text).pk)
    return Conversation.objects.select_related("cliente").get(cliente__telefone=PHONE)


def _appointments(tenant, cliente):
    servico = Servico.objects.create(tenant=tenant, nome="Consulta", duracao_minutos=30)
    start = timezone.now() + timedelta(days=2)
    first = agenda_services.agendamento_insert(
        tenant=tenant,
        cliente=cliente,
        servico=servico,
        inicio=start,
        fim=start + timedelta(minutes=30),
        origem=Agendamento.Origem.CHAT,
        status=Agendamento.Status.PENDENTE,
    )
    moved = agenda_services.agendamento_reschedule_local(
        agendamento_id=first.pk,
        novo_inicio=start + timedelta(hours=2),
        novo_fim=start + timedelta(hours=2, minutes=30),
        novo_uid="",
    )
    agenda_services.agendamento_cancel(agendamento=moved, sincronizar_calcom=False)
    past = timezone.now() - timedelta(hours=3)
    missed = agenda_services.agendamento_insert(
        tenant=tenant,
        cliente=cliente,
        servico=servico,
        inicio=past,
        fim=past + timedelta(minutes=30),
        origem=Agendamento.Origem.ADMIN,
        status=Agendamento.Status.CONFIRMADO,
    )
    agenda_services.agendamento_mark_no_show(agendamento_id=missed.pk)
    return first, moved, missed


def test_a_receiver_gets_each_event_type_signed(tenant, owner, subscription, receiver, committed):
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    with committed():
        conversation = _customer_writes(bot)
    cliente = conversation.cliente
    out = Message.objects.filter(conversation=conversation, direction="out").first()
    Message.objects.filter(pk=out.pk).update(
        provider_message_id="wamid.OUT1", error_code="131047", error_detail="janela de 24h"
    )
    with committed():
        watch.status_changed(tenant_id=tenant.pk, status="delivered", external_id="wamid.OUT1")
        watch.status_changed(tenant_id=tenant.pk, status="read", external_id="wamid.OUT1")
        watch.status_changed(tenant_id=tenant.pk, status="failed", message_id=out.pk)
        watch.status_changed(tenant_id=tenant.pk, status="sent", message_id=out.pk)  # not one
    with committed():
        ticket = inbox_services.ticket_open(conversation)
    with committed():
        inbox_services.ticket_close(ticket, owner)
    produto = ProdutoFactory(tenant=tenant, nome="Pão de queijo", preco="4.50")
    with committed():
        pedido = pedidos_services.pedido_create(
            tenant=tenant, cliente=cliente, itens=[(produto, 3)]
        )
    with committed():
        pedidos_services.pedido_change_status(pedido=pedido, status=StatusPedido.EM_PREPARO)
    with committed():
        first, moved, missed = _appointments(tenant, cliente)
    with committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.KEYWORD)
    with committed():
        consent.consent_opt_in(cliente=cliente, source=ConsentEvent.Source.ADMIN)

    events = receiver.events()  # every signature checked
    assert Counter(e["type"] for e in events) == {
        "message.received": 1,
        "message.status": 3,
        "conversation.handoff": 1,
        "conversation.closed": 1,
        "order.created": 1,
        "order.status": 1,
        "appointment.created": 2,
        "appointment.rescheduled": 1,
        "appointment.cancelled": 1,
        "appointment.no_show": 1,
        "consent.opted_out": 1,
        "consent.opted_in": 1,
    }
    assert len({e["id"] for e in events}) == len(events)
    assert all(e["tenant"] == "padaria" for e in events)
    by_type = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e["data"])
    received = by_type["message.received"][0]
    assert received["message"]["text"] == "oi"
    assert received["contact"]["phone"] == PHONE
    statuses = {d["status"]: d for d in by_type["message.status"]}
    assert set(statuses) == {"delivered", "read", "failed"}
    assert statuses["failed"]["error"]["code"] == "131047"
    assert statuses["read"]["message"]["external_id"] == "wamid.OUT1"
    assert by_type["conversation.handoff"][0]["ticket"]["queue"] == "atendimento"
    assert by_type["conversation.closed"][0]["ticket"]["outcome"] == "closed"
    order = by_type["order.created"][0]["order"]
    assert (order["total"], order["items"][0]["quantity"]) == ("13.50", 3)
    assert by_type["order.status"][0]["order"]["status"] == "em_preparo"
    assert by_type["order.status"][0]["previous_status"] == "confirmado"
    rescheduled = by_type["appointment.rescheduled"][0]
    assert (rescheduled["appointment"]["id"], rescheduled["previous"]["id"]) == (moved.pk, first.pk)
    assert by_type["appointment.cancelled"][0]["appointment"]["status"] == "cancelado"
    assert by_type["appointment.no_show"][0]["appointment"]["id"] == missed.pk
    assert by_type["consent.opted_out"][0]["source"] == "keyword"
    assert WebhookDelivery.objects.filter(status="delivered").count() == len(events)


def test_only_the_events_a_subscription_chose_are_sent(
    tenant, subscription, receiver, committed, cliente
):
    subscription.events = ["consent.opted_in"]
    services.subscription_save(subscription=subscription)
    with committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.ADMIN)
        consent.consent_opt_in(cliente=cliente, source=ConsentEvent.Source.ADMIN)
    assert [e["type"] for e in receiver.events()] == ["consent.opted_in"]


def test_a_tenant_without_subscriptions_costs_no_query_after_the_commit(
    tenant, cliente, committed, django_assert_num_queries
):
    services.subscribed_events(tenant.pk)  # what the cache holds after the first event
    with django_assert_num_queries(0):
        services.event_record(tenant.pk, "consent.opted_out", "1", lambda: {"x": 1})
    assert not WebhookDelivery.objects.exists()


def test_a_receiver_answering_500_gets_the_event_again_when_the_retry_is_due(
    tenant, subscription, receiver, committed, cliente, manager, api_client
):
    receiver.respond_next(status=500, body="erro interno do ERP")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with committed():
            consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.ADMIN)
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
            "pending",
            1,
            500,
        )
        assert delivery.next_attempt_at == start + timedelta(seconds=services.RETRY_DELAYS[0])
    with time_machine.travel(start + timedelta(seconds=30), tick=False), committed():
        assert tasks.bulk_webhook_sweep() == 0  # not due yet: nothing sent
    assert len(receiver.requests) == 1
    with time_machine.travel(start + timedelta(seconds=61), tick=False), committed():
        assert tasks.bulk_webhook_sweep() == 1
        events = receiver.events(fresh=False)

    assert [e["id"] for e in events] == [delivery.event_id] * 2  # the same event, twice
    stamps = [int(r.headers["X-Webhook-Timestamp"]) for r in receiver.requests]
    assert stamps[1] - stamps[0] == 61  # signed again when sent again
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    log = list(
        WebhookAttempt.objects.filter(delivery=delivery).values_list(
            "number", "status_code", "response_excerpt"
        )
    )
    assert log == [(1, 500, "erro interno do ERP"), (2, 200, "ok")]

    api_client.force_authenticate(manager)
    body = api_client.get(f"/api/integrations/deliveries/{delivery.pk}/").json()
    assert [(a["number"], a["status_code"]) for a in body["attempt_log"]] == [(1, 500), (2, 200)]


def test_a_4xx_answer_is_not_retried_and_redeliver_sends_it_again(
    tenant, subscription, receiver, committed, cliente, manager, api_client
):
    receiver.respond_next(status=401, body="assinatura inválida")
    with committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.ADMIN)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)

    api_client.force_authenticate(manager)
    with committed():
        answer = api_client.post(f"/api/integrations/deliveries/{delivery.pk}/redeliver/")
    assert answer.status_code == 202
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert len(receiver.events()) == 2


def test_a_url_at_a_private_address_is_refused(tenant, manager, api_client, fake_dns):
    fake_dns.add("erp.example.com", "10.0.0.8")
    api_client.force_authenticate(manager)
    for url in (
        "https://10.0.0.8/eventos",
        "https://erp.example.com/eventos",
        "https://169.254.169.254/",
    ):
        answer = api_client.post(
            "/api/integrations/webhooks/",
            {"url": url, "events": ["order.created"], "secret": SECRET},
            format="json",
        )
        assert answer.status_code == 400, url
        assert "interno" in str(answer.json()["url"])
    assert not WebhookSubscription.objects.exists()


def test_a_name_that_turns_private_after_saving_is_refused_at_the_call(
    tenant, cliente, committed, fake_dns, trap
):
    fake_dns.add("erp.example.com", "8.8.8.8", then=trap.host)
    services.subscription_save(
        subscription=WebhookSubscription(
            tenant=tenant,
            url="https://erp.example.com/eventos",
            secret=SECRET,
            events=["consent.opted_out"],
        )
    )
    with committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.ADMIN)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert "interno" in delivery.last_error
    assert trap.connections() == 0


def test_the_api_never_echoes_the_secret_and_only_managers_configure(
    tenant, manager, api_client, receiver
):
    from billing.models import Membership
    from tests.factories import MembershipFactory

    api_client.force_authenticate(manager)
    created = api_client.post(
        "/api/integrations/webhooks/",
        {"url": f"{receiver.url}/e", "events": ["order.created", "bogus.event"], "secret": SECRET},
        format="json",
    )
    assert created.status_code == 400 and "events" in created.json()
    created = api_client.post(
        "/api/integrations/webhooks/",
        {"url": f"{receiver.url}/e", "events": ["order.created"], "secret": SECRET},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert SECRET not in created.content.decode()
    assert created.json()["has_secret"] is True
    stored = WebhookSubscription.objects.get()
    assert stored.secret == SECRET
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_webhooksubscription")
        assert SECRET not in cursor.fetchone()[0]  # encrypted at rest

    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    api_client.force_authenticate(agent)
    assert api_client.get("/api/integrations/webhooks/").status_code == 403
    assert api_client.get("/api/integrations/deliveries/").status_code == 403


def test_another_tenant_never_sees_your_subscriptions_or_deliveries(
    tenant, other_tenant, subscription, receiver, committed, cliente, client
):
    from billing.models import Membership
    from tests.factories import MembershipFactory

    with committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.ADMIN)
    delivery = WebhookDelivery.objects.get()
    stranger = MembershipFactory(tenant=other_tenant, role=Membership.Role.OWNER).user

    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(stranger)
    assert api.get("/api/integrations/webhooks/").json()["results"] == []
    assert api.get("/api/integrations/deliveries/").json()["results"] == []
    assert api.get(f"/api/integrations/webhooks/{subscription.pk}/").status_code == 404
    assert api.get(f"/api/integrations/deliveries/{delivery.pk}/").status_code == 404
    assert api.post(f"/api/integrations/deliveries/{delivery.pk}/redeliver/").status_code == 404

    stranger.is_staff = True
    stranger.save()
    client.force_login(stranger)
    page = client.get("/admin/integrations/webhooksubscription/")
    assert page.status_code == 200 and "ERP" not in page.content.decode()
    page = client.get("/admin/integrations/webhookdelivery/")
    assert page.status_code == 200 and delivery.event_id not in page.content.decode()
    assert (
        client.get(f"/admin/integrations/webhooksubscription/{subscription.pk}/change/").status_code
        == 302
    )
    assert (
        client.get(f"/admin/integrations/webhookdelivery/{delivery.pk}/change/").status_code == 302
    )


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_configure_in_the_admin_and_redeliver(
    tenant, role, receiver, committed, cliente, client
):
    from billing.models import Membership
    from tests.factories import MembershipFactory

    user = MembershipFactory(tenant=tenant, role=role).user
    user.is_staff = True
    user.save()
    client.force_login(user)
    answer = client.post(
        "/admin/integrations/webhooksubscription/add/",
        {
            "tenant": tenant.pk,
            "description": "CRM",
            "url": f"{receiver.url}/crm",
            "events": ["consent.opted_out"],
            "secret": SECRET,
            "active": "on",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret == SECRET
    page = client.get(f"/admin/integrations/webhooksubscription/{subscription.pk}/change/")
    assert SECRET not in page.content.decode()

    receiver.respond_next(status=404)
    with committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.ADMIN)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    with committed():
        client.post(
            "/admin/integrations/webhookdelivery/",
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    page = client.get(f"/admin/integrations/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "404" in page and "200" in page  # both attempts in the log
    assert Membership.objects.filter(user=user, tenant=tenant).exists()


def test_the_readmes_verify_example_accepts_a_real_delivery(
    tenant, subscription, receiver, committed, cliente
):
    import contextlib
    import io
    import re
    from pathlib import Path

    from django.conf import settings

    readme = Path(settings.BASE_DIR, "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(# event-webhook-verify-example\n.*?)```", readme, re.S)
    assert block, "README.md must carry the event webhook verification example"
    out, namespace = io.StringIO(), {}
    with contextlib.redirect_stdout(out):
        exec(compile(block.group(1), "README.md", "exec"), namespace)  # noqa: S102 (our README)
    assert out.getvalue().strip() == "True"

    with committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.KEYWORD)
    (request,) = receiver.requests
    verify = namespace["verify"]
    headers = request.headers
    now = timezone.now().timestamp()
    ts, sig = headers["X-Webhook-Timestamp"], headers["X-Webhook-Signature"]
    assert verify(SECRET, ts, request.raw, sig, now=now)
    assert not verify("outro-segredo", ts, request.raw, sig, now=now)
    assert not verify(SECRET, ts, request.raw + b" ", sig, now=now)
    assert not verify(SECRET, ts, request.raw, sig, now=now + 301)  # a replay, later


def test_attendants_do_not_see_the_webhooks_in_the_admin(tenant, subscription, client):
    from billing.models import Membership
    from tests.factories import MembershipFactory

    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    client.force_login(agent)
    assert client.get("/admin/integrations/webhooksubscription/").status_code == 403
    assert client.get("/admin/integrations/webhookdelivery/").status_code == 403
    change = f"/admin/integrations/webhooksubscription/{subscription.pk}/change/"
    assert client.get(change).status_code in (302, 403)
    assert "integrations" not in client.get("/admin/").content.decode()


def test_the_log_goes_at_the_tenants_message_text_age(
    tenant, subscription, receiver, committed, cliente
):
    from compliance.models import RetentionPolicy
    from compliance.retention import retention_run

    with committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.KEYWORD)
    RetentionPolicy.objects.update_or_create(tenant=tenant, defaults={"message_text_days": 7})
    retention_run(now=timezone.now() + timedelta(days=6))
    assert WebhookDelivery.objects.count() == 1
    retention_run(now=timezone.now() + timedelta(days=8))
    assert not WebhookDelivery.objects.exists()
    assert not WebhookAttempt.objects.exists()


def test_a_receiver_that_is_down_is_retried_later(tenant, receiver, committed, cliente):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    services.subscription_save(
        subscription=WebhookSubscription(
            tenant=tenant,
            url=f"http://127.0.0.1:{port}/eventos",
            secret=SECRET,
            events=["consent.opted_out"],
        )
    )
    with committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.KEYWORD)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert "conectar" in delivery.last_error
    assert delivery.attempt_log.get().error == delivery.last_error


def test_a_webhook_switched_off_sends_no_more_retries(
    tenant, subscription, receiver, committed, cliente
):
    receiver.respond_next(status=503)
    start = timezone.now()
    with time_machine.travel(start, tick=False), committed():
        consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.KEYWORD)
    subscription.active = False
    services.subscription_save(subscription=subscription)
    with time_machine.travel(start + timedelta(minutes=2), tick=False), committed():
        tasks.bulk_webhook_sweep()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert "desativado" in delivery.last_error
    assert len(receiver.requests) == 1


def test_the_bots_turn_never_waits_for_the_receiver(
    tenant, subscription, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    """The turn only stores the delivery and queues it on `bulk`: a receiver that hangs
    (here: one never called) costs the customer's reply nothing."""
    from config.celery import app

    queued = []
    monkeypatch.setattr(tasks.bulk_webhook_deliver, "delay", lambda *a: queued.append(a))
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    with django_capture_on_commit_callbacks(execute=True):
        conversation = _customer_writes(bot)

    assert Message.objects.filter(conversation=conversation, direction="out").exists()
    delivery = WebhookDelivery.objects.get(event_type="message.received")
    assert queued == [(delivery.pk,)]
    assert receiver.requests == []  # nothing was sent inside the turn
    route = app.amqp.router.route({}, "integrations.tasks.bulk_webhook_deliver", (1,), {})
    assert route["queue"].name == "bulk"  # not the replies queue


def test_a_failure_meta_reports_by_webhook_reaches_the_receiver_with_its_code(
    tenant, subscription, receiver, committed, client
):
    """Through the real path: Meta's signed status webhook, stored, processed."""
    import time

    from chatbots.models import InboundEvent
    from chatbots.tests import webhook_meta_support as meta

    bot = ChatbotFactory(tenant=tenant, flow="menu", app_secret=meta.SECRET)
    with committed():
        conversation = _customer_writes(bot)
    out = Message.objects.filter(conversation=conversation, direction="out").first()
    Message.objects.filter(pk=out.pk).update(status="sent", provider_message_id="wamid.OUT9")
    receiver.requests.clear()
    refused = {
        "id": "wamid.OUT9",
        "status": "failed",
        "timestamp": str(int(time.time())),
        "recipient_id": PHONE,
        "errors": [{"code": 131026, "title": "Message undeliverable"}],
    }
    body = meta.envelope(meta.messages_change(bot.phone_number_id, statuses=[refused]))
    with committed():
        assert meta.post(client, body).status_code == 200
    event = InboundEvent.objects.get(kind="status")
    if event.state != InboundEvent.State.DONE:
        with committed():
            engine.process_event(event.pk)

    (status,) = [e for e in receiver.events() if e["type"] == "message.status"]
    assert status["data"]["status"] == "failed"
    assert status["data"]["error"]["code"] == "131026"
    assert status["data"]["message"]["external_id"] == "wamid.OUT9"
