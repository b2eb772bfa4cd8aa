"""Meta's account-level webhooks: routed by the WABA, verified with its bot's app secret.

Template, number and account news (`message_template_status_update`,
`message_template_quality_update`, `message_template_components_update`,
`template_category_update`, `phone_number_quality_update`, `phone_number_name_update`,
`account_update`; Meta: https://developers.facebook.com/docs/whatsapp/business-management-api/guides/set-up-webhooks)
carry no `metadata.phone_number_id`: the WhatsApp Business Account's id is `entry[].id`.
So they route by it (`bot_key` "waba:<id>", which never collides with a phone_number_id)
to the bots whose `waba_id` it is. Several bots can share a WABA (one per number); the
event is stored once, for the oldest of them whose app secret (or WHATSAPP_APP_SECRET)
verifies the signature, and applied to the WABA's bots of that bot's tenant
(chatbots.account_events). A bot that only claims a WABA id without its app's secret can
neither read nor block another tenant's events.

Meta gives these updates no id: `external_id` is built from the field, the WABA, the entry's
time and the value, so a retry (same bytes) is the same event, stored once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from django.conf import settings

from chatbots import routing
from chatbots.providers import meta_content, meta_inbound
from chatbots.routing import BotRoute
from chatbots.wire import InboundAccountEvent

WABA_PREFIX = "waba:"
ACCOUNT_FIELDS = meta_inbound.ACCOUNT_FIELDS


def waba_key(waba_id: str) -> str:
    return WABA_PREFIX + waba_id


def _account_changes(envelope: dict) -> Iterator[tuple[str, int | None, str, dict]]:
    """(WABA id, entry time, field, value) of every account-level change. The skeleton was
    checked by meta_inbound (load_envelope, routing_keys) before this runs."""
    if not meta_inbound.is_whatsapp(envelope):
        return
    for entry in envelope.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        waba_id = str(entry.get("id") or "")
        for change in entry.get("changes") or []:
            if not isinstance(change, dict):
                continue
            field = str(change.get("field") or "")
            value = change.get("value")
            if field in ACCOUNT_FIELDS and waba_id and isinstance(value, dict):
                yield waba_id, entry.get("time"), field, value


def routes(envelope: dict, *, header: str | None, body: bytes) -> dict[str, BotRoute]:
    """waba_key -> the bot each WABA's events are stored for: the oldest bot of the WABA
    whose app secret (or WHATSAPP_APP_SECRET) signs the body, else the oldest one (whose
    secret then fails the signature check: 401). WABAs with no bot are left out: their
    changes are acknowledged and dropped (counted in chatbot_webhook_ignored_total), as
    Meta sends every app the events of WABAs it is subscribed to, ours or not."""
    changes = list(_account_changes(envelope))
    if not changes:
        return {}
    known = routing.routes_for_wabas({waba_id for waba_id, _t, _f, _v in changes})
    for waba_id, _time, field, _value in changes:
        if waba_id not in known:
            meta_inbound.count_ignored(field)
    found = {}
    for waba_id, bots in known.items():
        signed = [
            bot
            for bot in bots
            if meta_inbound.verify_signature(
                body=body,
                header=header,
                secret=(bot.app_secret or settings.WHATSAPP_APP_SECRET or "").strip(),
            )
        ]
        found[waba_key(waba_id)] = (signed or bots)[0]
    return found


def parse_envelope(envelope: dict) -> list[meta_inbound.Parsed]:
    """Every account-level change of the batch as an InboundAccountEvent with its raw JSON."""
    parsed = []
    for waba_id, time, field, value in _account_changes(envelope):
        canonical = json.dumps([field, waba_id, time, value], sort_keys=True, ensure_ascii=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:40]
        record = InboundAccountEvent(
            provider=meta_inbound.PROVIDER,
            external_id=f"account:{field}:{waba_id}:{digest}"[:255],
            bot_key=waba_key(waba_id),
            timestamp=meta_content.timestamp_of(time),
            field=field,
            waba_id=waba_id,
            value=value,
        )
        parsed.append((record, {"field": field, "waba_id": waba_id, "time": time, "value": value}))
    return parsed
