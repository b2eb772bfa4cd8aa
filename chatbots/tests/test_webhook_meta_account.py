"""Meta's account-level webhooks: routed by the WABA in `entry[].id`, verified with that
bot's own app secret, stored once, and applied (templates, number, account), with the
owners told (chatbots.providers.meta_account, chatbots.account_events)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from billing.models import BillingAlert, LimitKind
from chatbots.models import AccountStatus, Chatbot, InboundEvent, Message, MessageTemplate
from chatbots.outbox import Template, send_to_customer
from tests import meta
from tests.factories import (
    ChatbotFactory,
    ClienteFactory,
    MembershipFactory,
    MessageTemplateFactory,
    UserFactory,
)

CORPUS = Path(settings.BASE_DIR) / "tests" / "corpus" / "pywa-updates"
URL = "/api/chatbots/webhook/"
WABA = "102290129340398"
BOT_SECRET = "secret-of-the-tenants-own-meta-app"
GLOBAL_SECRET = "secret-of-the-platforms-meta-app"


def corpus(name: str, case: str) -> dict:
    return json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))[case]


@pytest.fixture(autouse=True)
def _global_secret(settings):
    settings.WHATSAPP_APP_SECRET = GLOBAL_SECRET


@pytest.fixture
def owner_email(tenant):
    MembershipFactory(tenant=tenant, user=UserFactory(email="dona@padaria.com.br"))
    return "dona@padaria.com.br"


@pytest.fixture
def waba_bot(tenant):
    return ChatbotFactory(
        tenant=tenant,
        name="Padaria",
        waba_id=WABA,
        app_secret=BOT_SECRET,
        display_number="+1 555 078 3881",
    )


@pytest.fixture
def pending_template(waba_bot):
    return MessageTemplateFactory(
        chatbot=waba_bot,
        name="order_confirmation",
        language="en_US",
        status=MessageTemplate.Status.PENDING,
        approved=False,
        meta_id="1689556908129832",
        body_text="Thank you for your order, {{1}}!",
        body_examples=["Mark"],
    )


def deliver(client, payload: dict, secret: str = BOT_SECRET, times: int = 1):
    responses = []
    for _ in range(times):
        responses.append(meta.post(client, payload, secret, path=URL))
    return responses


# --- Templates ---------------------------------------------------------------------------------


def test_a_status_update_signed_with_the_bots_own_secret_is_stored_once_and_approves_the_template(
    client, celery_eager, django_capture_on_commit_callbacks, pending_template, owner_email
):
    payload = corpus("template_status_update", "approved")

    with django_capture_on_commit_callbacks(execute=True):
        responses = deliver(client, payload, times=3)

    assert [r.status_code for r in responses] == [200, 200, 200]
    events = InboundEvent.objects.filter(kind=InboundEvent.Kind.ACCOUNT)
    assert events.count() == 1
    assert events.get().state == InboundEvent.State.DONE
    pending_template.refresh_from_db()
    assert (pending_template.status, pending_template.approved) == ("APPROVED", True)
    alert = BillingAlert.objects.get(kind=LimitKind.WHATSAPP)
    assert "order_confirmation" in alert.message and "aprovado" in alert.message
    assert [m.to for m in mail.outbox] == [[owner_email]]


def test_a_rejection_keeps_metas_reason_and_the_template_cannot_be_sent(
    client, celery_eager, django_capture_on_commit_callbacks, waba_bot, tenant
):
    template = MessageTemplateFactory(
        chatbot=waba_bot, name="abandoned_cart", language="en", status="PENDING", approved=False
    )

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, corpus("template_status_update", "rejected"))

    template.refresh_from_db()
    assert template.status == "REJECTED" and not template.approved
    assert "parameters placed next to each other" in template.status_reason
    row = send_to_customer(
        chatbot=waba_bot,
        cliente=ClienteFactory(tenant=tenant),
        message=Template(name="abandoned_cart", language="en"),
    )
    assert (row.status, row.error_code) == (Message.Status.FAILED, "template_not_approved")


def test_a_paused_template_stops_being_sendable(
    client, celery_eager, django_capture_on_commit_callbacks, pending_template
):
    MessageTemplate.objects.filter(pk=pending_template.pk).update(status="APPROVED", approved=True)
    payload = copy.deepcopy(corpus("template_status_update", "approved"))
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(
        event="PAUSED", other_info={"title": "FIRST_PAUSE", "description": "Baixa qualidade"}
    )

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, payload)

    pending_template.refresh_from_db()
    assert (pending_template.status, pending_template.approved) == ("PAUSED", False)
    assert "Baixa qualidade" in pending_template.status_reason


def test_quality_and_category_updates_move_the_template(
    client, celery_eager, django_capture_on_commit_callbacks, waba_bot
):
    welcome = MessageTemplateFactory(
        chatbot=waba_bot, name="welcome_template", language="en_US", meta_id="806312974732579"
    )
    hebrew = MessageTemplateFactory(chatbot=waba_bot, name="my_message_template", language="he")
    category = corpus("template_category_update", "marketing")
    category["entry"][0]["id"] = WABA

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, corpus("template_quality_update", "yellow"), times=3)
        deliver(client, category, times=3)

    assert InboundEvent.objects.filter(kind=InboundEvent.Kind.ACCOUNT).count() == 2

    welcome.refresh_from_db()
    hebrew.refresh_from_db()
    assert welcome.quality_score == "YELLOW"
    assert hebrew.category == "MARKETING"
    assert BillingAlert.objects.filter(kind=LimitKind.WHATSAPP).count() == 2
    quality = BillingAlert.objects.get(message__contains="welcome_template").message
    assert "para média (amarela)" in quality and "YELLOW" not in quality


# --- The number and the account ---------------------------------------------------------------


def quality_update(event: str, limit: str) -> dict:
    """The shape of Meta's phone_number_quality_update (Meta:
    https://developers.facebook.com/docs/whatsapp/business-management-api/webhooks/components);
    the shared corpus has no example of it."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA,
                "time": 1751250234,
                "changes": [
                    {
                        "field": "phone_number_quality_update",
                        "value": {
                            "display_phone_number": "15550783881",
                            "event": event,
                            "current_limit": limit,
                        },
                    }
                ],
            }
        ],
    }


def test_a_number_quality_update_keeps_quality_and_tier_on_the_bot(
    client, celery_eager, django_capture_on_commit_callbacks, waba_bot, owner_email
):
    ChatbotFactory(tenant=waba_bot.tenant, waba_id=WABA, display_number="+55 11 90000-0000")

    with django_capture_on_commit_callbacks(execute=True):
        responses = deliver(client, quality_update("FLAGGED", "TIER_1K"), times=3)

    assert {r.status_code for r in responses} == {200}
    assert InboundEvent.objects.filter(kind=InboundEvent.Kind.ACCOUNT).count() == 1
    waba_bot.refresh_from_db()
    assert (waba_bot.quality_rating, waba_bot.messaging_limit_tier) == ("RED", "TIER_1K")
    other = Chatbot.objects.exclude(pk=waba_bot.pk).get()
    assert other.quality_rating == ""  # another number of the same WABA
    assert "qualidade caiu" in BillingAlert.objects.get().message
    assert (
        "Limite atual: até 1.000 conversas iniciadas por dia." in BillingAlert.objects.get().message
    )
    assert len(mail.outbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, quality_update("UPGRADE", "TIER_10K"))
    waba_bot.refresh_from_db()
    assert waba_bot.messaging_limit_tier == "TIER_10K"


def restriction(expiration: int) -> dict:
    payload = copy.deepcopy(corpus("account_update", "account_restriction"))
    for item in payload["entry"][0]["changes"][0]["value"]["restriction_info"]:
        item["expiration"] = expiration
    return payload


def test_an_account_restriction_pauses_business_initiated_sends_and_alerts_the_owners(
    client, celery_eager, django_capture_on_commit_callbacks, waba_bot, owner_email, admin_client
):
    until = int(timezone.now().timestamp()) + 7 * 86400

    with django_capture_on_commit_callbacks(execute=True):
        responses = deliver(client, restriction(until), times=3)

    assert {r.status_code for r in responses} == {200}
    waba_bot.refresh_from_db()
    assert waba_bot.account_status == AccountStatus.RESTRICTED
    assert waba_bot.account_restricted_until == datetime.fromtimestamp(until, tz=UTC)
    # What a campaign runner reads before any business-initiated send (issue 21).
    assert "campanhas" in waba_bot.business_initiated_blocked()
    assert len(mail.outbox) == 1 and "RESTRICTED_BIZ_INITIATED_MESSAGING" in mail.outbox[0].body
    assert mail.outbox[0].to == [owner_email]
    page = admin_client.get("/admin/chatbots/chatbot/")
    assert "campanhas" in page.content.decode()
    # Once the restriction expires, the bot may start conversations again.
    later = datetime.fromtimestamp(until + 1, tz=UTC)
    assert waba_bot.business_initiated_blocked(now=later) == ""


def test_a_ban_blocks_and_a_reinstatement_lifts_it(
    client, celery_eager, django_capture_on_commit_callbacks, waba_bot
):
    banned = copy.deepcopy(corpus("account_update", "account_disabled"))
    banned["entry"][0]["changes"][0]["value"]["ban_info"]["waba_ban_state"] = "DISABLE"

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, banned)
    waba_bot.refresh_from_db()
    assert waba_bot.account_status == AccountStatus.DISABLED
    assert waba_bot.business_initiated_blocked()

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, corpus("account_update", "account_disabled"))  # REINSTATE
    waba_bot.refresh_from_db()
    assert waba_bot.account_status == AccountStatus.OK
    assert waba_bot.business_initiated_blocked() == ""


# --- Signatures and routing ---------------------------------------------------------------------


def test_the_global_app_secret_signs_for_a_bot_without_its_own(
    client, queued, waba_bot, pending_template
):
    Chatbot.objects.filter(pk=waba_bot.pk).update(app_secret="")

    (response,) = deliver(client, corpus("template_status_update", "approved"), GLOBAL_SECRET)

    assert response.status_code == 200
    assert InboundEvent.objects.get().chatbot_id == waba_bot.pk


@pytest.mark.parametrize("secret", [GLOBAL_SECRET, "someone-else"])
def test_a_body_not_signed_with_the_bots_secret_is_refused_and_nothing_stored(
    client, queued, waba_bot, secret
):
    (response,) = deliver(client, corpus("template_status_update", "approved"), secret)

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_a_waba_claimed_by_another_tenant_neither_reads_nor_blocks_its_events(
    client, celery_eager, django_capture_on_commit_callbacks, pending_template, other_tenant
):
    intruder = ChatbotFactory(tenant=other_tenant, waba_id=WABA, app_secret="intruders-secret")
    MessageTemplateFactory(
        chatbot=intruder,
        name="order_confirmation",
        language="en_US",
        status="PENDING",
        approved=False,
    )

    with django_capture_on_commit_callbacks(execute=True):
        (response,) = deliver(client, corpus("template_status_update", "approved"))

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.tenant_id == pending_template.tenant_id
    assert list(MessageTemplate.objects.filter(approved=True)) == [
        MessageTemplate.objects.get(pk=pending_template.pk)
    ]


def test_events_of_a_waba_no_bot_has_are_acknowledged_and_dropped(client, queued, tenant):
    (response,) = deliver(client, corpus("template_status_update", "approved"), GLOBAL_SECRET)

    assert response.status_code == 200
    assert not InboundEvent.objects.exists()


# --- The shared corpus ---------------------------------------------------------------------------


ACCOUNT_FILES = (
    "account_update",
    "template_status_update",
    "template_quality_update",
    "template_category_update",
    "template_components_update",
)


def _account_cases():
    for name in ACCOUNT_FILES:
        cases = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
        for case, envelope in cases.items():
            yield pytest.param(envelope, id=f"{name}:{case}")


@pytest.mark.parametrize("envelope", list(_account_cases()))
def test_every_account_level_example_of_the_corpus_is_routed_to_its_wabas_bot(
    client, celery_eager, django_capture_on_commit_callbacks, tenant, envelope
):
    wabas = sorted({entry["id"] for entry in envelope["entry"]})
    bots = {
        waba: ChatbotFactory(tenant=tenant, name=f"bot {waba}", waba_id=waba, app_secret=BOT_SECRET)
        for waba in wabas
    }
    changes = sum(len(entry["changes"]) for entry in envelope["entry"])

    with django_capture_on_commit_callbacks(execute=True):
        first, again = deliver(client, envelope, times=2)

    assert (first.status_code, again.status_code) == (200, 200)
    events = list(InboundEvent.objects.filter(kind=InboundEvent.Kind.ACCOUNT))
    assert len(events) == changes
    assert {e.chatbot_id for e in events} == {bots[w].pk for w in wabas}
    assert all(e.state in (InboundEvent.State.DONE, InboundEvent.State.IGNORED) for e in events)
    assert not any(e.last_error.startswith("Traceback") for e in events)


def test_while_restricted_proactive_sends_are_refused_and_replies_still_go(tenant, waba_bot):
    from chatbots.outbox import Text

    MessageTemplateFactory(chatbot=waba_bot, name="volte", status="APPROVED", approved=True)
    Chatbot.objects.filter(pk=waba_bot.pk).update(
        account_status=AccountStatus.RESTRICTED, account_detail="Conta restrita pela Meta."
    )
    waba_bot.refresh_from_db()
    cliente = ClienteFactory(tenant=tenant)

    proactive = send_to_customer(
        chatbot=waba_bot, cliente=cliente, message=Template(name="volte"), proactive=True
    )
    transactional = send_to_customer(
        chatbot=waba_bot,
        cliente=cliente,
        message=Text(body="Seu pedido saiu"),
        template=Template(name="volte"),
    )

    assert (proactive.status, proactive.error_code) == (Message.Status.FAILED, "account_restricted")
    assert proactive.error_detail == "Conta restrita pela Meta."
    assert transactional.status == Message.Status.QUEUED
