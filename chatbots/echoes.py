"""Messages the business sent from its own WhatsApp: never a customer turn.

Three providers tell us what the connected number sent:

* Evolution's `fromMe` upserts (Evolution API: https://doc.evolution-api.com/v2/en/configuration/webhooks) and Whaticket's `fromMe`
  messages report everything the number sends: the echoes of our own API sends AND what
  a person at the business types on the phone;
* Meta's `smb_message_echoes` (coexistence numbers, the WhatsApp Business app and the
  Cloud API on one number: https://developers.facebook.com/docs/whatsapp/embedded-signup/custom-flows/onboarding-business-app-users)
  reports what was sent from the app or a linked device, plus its edits and deletions.

Providers store them as ECHO_TYPE events (the customer as the contact, the echoed type
in `data["echo_type"]`); the engine hands them here instead of to the flow, so an echo
never triggers the bot (no reply loops).

When the echo is not one of our own sends, a person is answering this customer: the
conversation goes to `human` and the `HumanHandoff` interceptor keeps the bot quiet, so it
never talks over the person. Staff give it back to the bot in the admin (status "Com o
robô") or it restarts when closed. The person's message is kept in the conversation as an
outbound row marked `sent_from: "phone"`, and handed to the outbox's watchers
(chatbots.outbox.watch) like every stored message, so a live screen shows it.

Telling ours apart: our row carries the provider's id once the send returns. The echo can
arrive before that (Evolution fires the upsert while the send call is still answering), so
a send still in flight, or one with the very same text in the last OWN_SEND_WINDOW, also
counts as ours.

An edit or a deletion made on the phone (Meta's `edit` / `revoke` echoes) is not a new
message: it changes the phone row it names (new text, or marked `revoked`) and nothing else.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import watch
from chatbots.providers.base import ECHO_TYPE
from chatbots.wire import InboundMessage
from clientes.services import cliente_upsert_from_whatsapp

logger = logging.getLogger(__name__)

__all__ = ["ECHO_TYPE", "echo_is_ours", "echo_process"]

OWN_SEND_WINDOW = timedelta(minutes=2)
SENT_FROM_PHONE = "phone"
#: Echo types that change an earlier message instead of being one (Meta's corpus:
#: pywa-updates/outgoing_message.json, cases "edit" and "delete").
AMENDMENTS = frozenset({"edit", "revoke"})


def _words(text: str) -> str:
    return " ".join((text or "").split())


def echo_is_ours(*, conversation: Conversation, message: InboundMessage) -> bool:
    """Whether the echoed message is one the bot (or send_to_customer) sent."""
    ours = Message.objects.filter(
        tenant_id=conversation.tenant_id,
        direction=Message.Direction.OUT,
        provider_message_id=message.external_id,
    )
    if ours.exists():
        return True
    recent = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.OUT)
        .filter(
            Q(status=Message.Status.SENDING)
            | Q(sent_at__gte=timezone.now() - OWN_SEND_WINDOW, provider_message_id__isnull=False)
        )
        .values_list("status", "text")
    )
    echoed = _words(message.text)
    return any(
        status == Message.Status.SENDING or (echoed and _words(text) == echoed)
        for status, text in recent
    )


def echo_process(*, chatbot: Chatbot, message: InboundMessage) -> Conversation:
    """Record a message the business sent from its phone and hand the conversation to a
    person; an echo of our own send changes nothing. Returns the conversation."""
    cliente = cliente_upsert_from_whatsapp(
        tenant=chatbot.tenant, wa_id=message.from_phone, user_id=message.from_user_id
    )
    conversation, _created = Conversation.objects.get_or_create(
        chatbot=chatbot, cliente=cliente, defaults={"tenant_id": chatbot.tenant_id}
    )
    if message.data.get("echo_type") in AMENDMENTS:
        _amend(conversation=conversation, message=message)
        return conversation
    if echo_is_ours(conversation=conversation, message=message):
        return conversation
    row = Message.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        direction=Message.Direction.OUT,
        status=Message.Status.SENT,
        type="text",
        text=message.text,
        # No provider_message_id: if this was our own send after all (a race the checks
        # above missed), our row still gets its id without a unique-constraint clash.
        payload={
            "sent_from": SENT_FROM_PHONE,
            "provider": message.provider,
            "external_id": message.external_id,
            "type": message.data.get("echo_type", ""),
        },
        sent_at=message.timestamp,
    )
    if conversation.status != Conversation.Status.HUMAN:
        conversation.status = Conversation.Status.HUMAN
        conversation.save(update_fields=["status", "updated_at"])
        logger.info(
            "business answered from its phone: conversation handed to a person",
            extra={"conversation_id": conversation.pk, "chatbot_id": chatbot.pk},
        )
    # Screens that show the conversation live (the attendant inbox) get it as the others.
    watch.messages_stored(conversation, [row])
    return conversation


def _amend(*, conversation: Conversation, message: InboundMessage) -> None:
    """Apply an edit or a deletion made on the phone to the phone row it names; one of our
    own messages, or one we never saw, is left as it is."""
    original = message.data.get("original_message_id") or ""
    row = (
        Message.objects.filter(
            conversation=conversation,
            direction=Message.Direction.OUT,
            payload__sent_from=SENT_FROM_PHONE,
            payload__external_id=original,
        ).first()
        if original
        else None
    )
    if row is None:
        return
    if message.data.get("echo_type") == "revoke":
        row.payload = {**row.payload, "revoked": True}
        row.save(update_fields=["payload"])
    else:
        row.payload = {**row.payload, "edited": True}
        row.text = message.text
        row.save(update_fields=["payload", "text"])
