"""What Meta's account-level webhooks change, once stored (chatbots.providers.meta_account).

One stored InboundEvent (kind "account") per change; `account_event_apply` applies it to
the bots of the WABA in the event's tenant, then tells the owners the way plan alerts do
(billing.alerts.notice_raise: admin notice, email, signed webhook), once per event:

* `message_template_status_update`: the template's status (approved, rejected with Meta's
  reason, paused, disabled, ...); only APPROVED may be sent;
* `message_template_quality_update`, `template_category_update`: its quality and category;
* `message_template_components_update`: its texts (Meta edited them);
* `phone_number_quality_update`: the number's quality and messaging limit tier;
* `account_update`: a restriction or ban of the account (Chatbot.account_status, what a
  campaign runner reads through Chatbot.business_initiated_blocked), and its lifting;
  while it lasts, `proactive_gate` keeps proactive sends out of the outbox;
* `evolution_connection` (chatbots.wire.CONNECTION_FIELD): an Evolution instance's
  CONNECTION_UPDATE; the owners hear when the number disconnects and when it is back, and
  the kept events are the bot's connection history (`connection_states`).

Payload shapes: Meta's webhook reference (Meta:
https://developers.facebook.com/docs/whatsapp/business-management-api/webhooks/components)
and the examples in tests/corpus/pywa-updates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils.translation import gettext as _

from billing import alerts
from chatbots import inbound, template_sync
from chatbots.error_codes import quality_name, tier_name
from chatbots.models import AccountStatus, Chatbot, InboundEvent
from chatbots.outbox.gates import Outgoing, Refusal
from chatbots.wire import CONNECTION_FIELD, InboundAccountEvent
from clientes.phones import InvalidPhone, normalize_phone

logger = logging.getLogger(__name__)

# Template events that mean "sendable again" / "news, the status stands".
BACK_TO_APPROVED = frozenset({"REINSTATED", "UNPAUSED"})
STATUS_STANDS = frozenset({"FLAGGED"})
# Restrictions that stop business-initiated messages (campaigns, reactivation).
BUSINESS_INITIATED = frozenset(
    {"RESTRICTED_BIZ_INITIATED_MESSAGING", "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"}
)
BANNED_STATES = frozenset({"DISABLE", "SCHEDULE_FOR_DISABLE"})
ACCOUNT_RESTRICTED = "account_restricted"  # Message.error_code of a proactive send refused


@dataclass(frozen=True)
class Outcome:
    note: str  # what happened, for InboundEvent.last_error when nothing was done
    notice: str = ""  # what the owners are told; empty: nobody
    acted: bool = True


def account_event_apply(event: InboundEvent) -> None:
    """Apply one stored account-level event and finish it (done, or ignored with why)."""
    record = InboundAccountEvent.from_dict(event.payload)
    bots = (
        list(
            Chatbot.objects.filter(tenant_id=event.tenant_id, waba_id=record.waba_id).order_by("pk")
        )
        if record.waba_id
        else []  # an event of one bot (an Evolution instance's connection)
    ) or [event.chatbot]
    handler = HANDLERS.get(record.field)
    with transaction.atomic():
        if handler is None:
            outcome = Outcome(note=f"field {record.field!r} is not acted on", acted=False)
        else:
            outcome = handler(record, bots)
        if outcome.notice:
            alerts.notice_raise(
                tenant_id=event.tenant_id,
                source=f"inbound:{event.pk}",
                message=outcome.notice,
                occurred_at=record.timestamp,
            )
        state = InboundEvent.State.DONE if outcome.acted else InboundEvent.State.IGNORED
        inbound.finish(event, state, "" if outcome.acted else outcome.note)
    logger.info(
        "account event applied",
        extra={"event_id": event.pk, "field": record.field, "acted": outcome.acted},
    )


def proactive_gate(outgoing: Outgoing) -> Refusal | None:
    """The outbox's QUEUE gate (registered by chatbots.apps): while the account is
    restricted or banned, nothing the business sends on its own initiative (reactivation,
    optional reminders, and the campaigns to come) is queued; replies and transactional
    updates are left to Meta's own rules."""
    if not outgoing.proactive:
        return None
    why = outgoing.chatbot.business_initiated_blocked()
    return (ACCOUNT_RESTRICTED, why) if why else None


# --- Templates -----------------------------------------------------------------------------


def _template_key(value: dict) -> tuple[str, str, str]:
    return (
        str(value.get("message_template_name") or ""),
        str(value.get("message_template_language") or ""),
        str(value.get("message_template_id") or ""),
    )


def _reason(value: dict) -> str:
    info = value.get("rejection_info") if isinstance(value.get("rejection_info"), dict) else {}
    other = value.get("other_info") if isinstance(value.get("other_info"), dict) else {}
    parts = [str(info.get("reason") or ""), str(info.get("recommendation") or "")]
    if not any(parts):
        parts = [str(other.get("title") or ""), str(other.get("description") or "")]
    raw = str(value.get("reason") or "")
    if not any(parts) and raw.upper() not in ("", "NONE"):
        parts = [raw]
    return " ".join(p for p in parts if p)[:2000]


def _template_status(record: InboundAccountEvent, bots: list[Chatbot]) -> Outcome:
    value = record.value
    name, language, meta_id = _template_key(value)
    event = str(value.get("event") or "").upper()
    status = "APPROVED" if event in BACK_TO_APPROVED else event
    changed = template_sync.template_status_apply(
        chatbots=bots,
        name=name,
        language=language,
        meta_id=meta_id,
        at=record.timestamp,
        status="" if event in STATUS_STANDS else status,
        reason=_reason(value),
        category=str(value.get("message_template_category") or ""),
    )
    if not changed:
        return Outcome(note="no template with this name and language", acted=False)
    template = changed[0]
    label = (
        _("marcado pela Meta (avaliações negativas; pode ser pausado)")
        if event in STATUS_STANDS
        else str(template.get_status_display()).lower()
    )
    notice = _("O modelo de mensagem “%(name)s” (%(lang)s) está %(status)s.") % {
        "name": name,
        "lang": language,
        "status": label,
    }
    if reason := _reason(value):
        notice += " " + _("Motivo: %(reason)s") % {"reason": reason}
    return Outcome(note="", notice=notice)


def _template_quality(record: InboundAccountEvent, bots: list[Chatbot]) -> Outcome:
    value = record.value
    name, language, meta_id = _template_key(value)
    quality = str(value.get("new_quality_score") or "").upper()
    changed = template_sync.template_status_apply(
        chatbots=bots,
        name=name,
        language=language,
        meta_id=meta_id,
        at=record.timestamp,
        quality=quality,
    )
    if not changed:
        return Outcome(note="no template with this name and language", acted=False)
    return Outcome(
        note="",
        notice=_("A qualidade do modelo “%(name)s” (%(lang)s) mudou de %(old)s para %(new)s.")
        % {
            "name": name,
            "lang": language,
            "old": quality_name(str(value.get("previous_quality_score") or "")) or "?",
            "new": quality_name(quality or "") or "?",
        },
    )


def _template_category(record: InboundAccountEvent, bots: list[Chatbot]) -> Outcome:
    value = record.value
    name, language, meta_id = _template_key(value)
    category = str(value.get("new_category") or value.get("correct_category") or "").upper()
    changed = template_sync.template_status_apply(
        chatbots=bots,
        name=name,
        language=language,
        meta_id=meta_id,
        at=record.timestamp,
        category=category,
    )
    if not changed:
        return Outcome(note="no template with this name and language", acted=False)
    return Outcome(
        note="",
        notice=_(
            "A Meta mudou a categoria do modelo “%(name)s” (%(lang)s) para %(category)s; o "
            "preço de cada envio segue a nova categoria."
        )
        % {"name": name, "lang": language, "category": category or "?"},
    )


def _template_components(record: InboundAccountEvent, bots: list[Chatbot]) -> Outcome:
    value = record.value
    name, language, meta_id = _template_key(value)
    changed = template_sync.template_status_apply(
        chatbots=bots, name=name, language=language, meta_id=meta_id, at=record.timestamp
    )
    for template in changed:
        if value.get("message_template_element"):
            template.body_text = str(value["message_template_element"])
        if value.get("message_template_footer"):
            template.footer_text = str(value["message_template_footer"])[:120]
        if value.get("message_template_title"):
            template.header_format, template.header_text = (
                "TEXT",
                str(value["message_template_title"])[:120],
            )
        template_sync.template_definition_save(template=template)
    if not changed:
        return Outcome(note="no template with this name and language", acted=False)
    return Outcome(note="")


# --- Numbers and the account ---------------------------------------------------------------------


def _digits(raw: str) -> str:
    try:
        return normalize_phone("+" + raw.lstrip("+")) if raw else ""
    except InvalidPhone:
        return "".join(c for c in raw if c.isdigit())


def _number_quality(record: InboundAccountEvent, bots: list[Chatbot]) -> Outcome:
    value = record.value
    number = _digits(str(value.get("display_phone_number") or ""))
    matching = [b for b in bots if number and _digits(b.display_number) == number]
    targets = matching or (bots if len(bots) == 1 else [])
    if not targets:
        return Outcome(note=f"no bot of the WABA has the number {number}", acted=False)
    event = str(value.get("event") or "").upper()
    tier = str(value.get("current_limit") or value.get("messaging_limit_tier") or "").upper()
    # FLAGGED: the number's quality fell to low (red); UNFLAGGED: it is no longer low.
    quality = str(value.get("quality_rating") or "").upper() or {
        "FLAGGED": "RED",
        "UNFLAGGED": "GREEN",
    }.get(event, "")
    for bot in targets:
        fields = {}
        if tier:
            fields["messaging_limit_tier"] = tier
        if quality:
            fields["quality_rating"] = quality
        if fields:
            Chatbot.objects.filter(pk=bot.pk).update(**fields)
    texts = {
        "FLAGGED": _("a qualidade caiu para baixa; se não melhorar, o limite de conversas cai."),
        "UNFLAGGED": _("a qualidade voltou ao normal."),
        "UPGRADE": _("o limite de conversas iniciadas subiu."),
        "DOWNGRADE": _("o limite de conversas iniciadas caiu."),
    }
    notice = _("Número %(number)s: %(what)s") % {
        "number": targets[0].display_number or number,
        "what": texts.get(event, event.lower() or "?"),
    }
    if tier:
        notice += " " + _("Limite atual: %(tier)s.") % {"tier": tier_name(tier)}
    return Outcome(note="", notice=notice)


def _restriction_until(info: list) -> datetime | None:
    stamps = []
    for item in info:
        try:
            stamps.append(datetime.fromtimestamp(int(item.get("expiration")), tz=UTC))
        except (TypeError, ValueError, OverflowError, OSError, AttributeError):
            continue
    return max(stamps) if stamps else None


def _account_update(record: InboundAccountEvent, bots: list[Chatbot]) -> Outcome:
    value = record.value
    event = str(value.get("event") or "").upper()
    ids = [b.pk for b in bots]
    if event == "ACCOUNT_RESTRICTION":
        info = [i for i in value.get("restriction_info") or [] if isinstance(i, dict)]
        kinds = sorted({str(i.get("restriction_type") or "") for i in info} - {""})
        blocking = [i for i in info if i.get("restriction_type") in BUSINESS_INITIATED]
        until = _restriction_until(blocking)
        detail = _("A Meta restringiu a conta do WhatsApp (%(kinds)s)") % {
            "kinds": ", ".join(kinds) or "?"
        }
        if until:
            detail += _(" até %(until)s") % {"until": until.strftime("%d/%m/%Y %H:%M UTC")}
        detail += "."
        if blocking:
            detail += " " + _(
                "Mensagens iniciadas pela empresa (campanhas, reativação) estão suspensas."
            )
            Chatbot.objects.filter(pk__in=ids).update(
                account_status=AccountStatus.RESTRICTED,
                account_restricted_until=until,
                account_detail=detail,
            )
        return Outcome(note="", notice=detail)
    if event == "DISABLED_UPDATE":
        ban = value.get("ban_info") if isinstance(value.get("ban_info"), dict) else {}
        state = str(ban.get("waba_ban_state") or "").upper()
        if state in BANNED_STATES:
            detail = _(
                "A Meta desativou (baniu) a conta do WhatsApp (%(state)s, %(date)s). Nenhuma "
                "mensagem iniciada pela empresa pode ser enviada."
            ) % {"state": state, "date": ban.get("waba_ban_date") or "?"}
            Chatbot.objects.filter(pk__in=ids).update(
                account_status=AccountStatus.DISABLED,
                account_restricted_until=None,
                account_detail=detail,
            )
            return Outcome(note="", notice=detail)
        if state == "REINSTATE":
            _clear(ids)
            return Outcome(note="", notice=_("A Meta reativou a conta do WhatsApp."))
        return Outcome(note=f"ban state {state!r} not acted on", acted=False)
    if event == "ACCOUNT_VIOLATION":
        violation = (
            value.get("violation_info") if isinstance(value.get("violation_info"), dict) else {}
        )
        return Outcome(
            note="",
            notice=_(
                "A Meta registrou uma violação das políticas na conta do WhatsApp (%(kind)s). "
                "Repetir pode levar a restrição ou banimento."
            )
            % {"kind": violation.get("violation_type") or "?"},
        )
    if event in ("ACCOUNT_DELETED", "ACCOUNT_OFFBOARDED"):
        detail = _("A conta do WhatsApp foi removida ou desconectada deste aplicativo (%(e)s).") % {
            "e": event
        }
        Chatbot.objects.filter(pk__in=ids).update(
            account_status=AccountStatus.DISABLED, account_detail=detail
        )
        return Outcome(note="", notice=detail)
    if event == "ACCOUNT_RECONNECTED":
        _clear(ids)
        return Outcome(note="", notice=_("A conta do WhatsApp foi reconectada."))
    return Outcome(note=f"account_update event {event!r} not acted on", acted=False)


def _clear(ids: list[int]) -> None:
    Chatbot.objects.filter(pk__in=ids).update(
        account_status=AccountStatus.OK, account_restricted_until=None, account_detail=""
    )


# --- An Evolution number's connection -----------------------------------------------------


def connection_states(chatbot_ids: list[int]) -> dict[int, tuple[str, datetime]]:
    """Each bot's last known Evolution connection state and since when, from the kept
    connection events (a bot that never reported one is missing)."""
    rows = (
        InboundEvent.objects.filter(
            chatbot_id__in=chatbot_ids,
            kind=InboundEvent.Kind.ACCOUNT,
            provider="evolution",
            payload__field=CONNECTION_FIELD,
        )
        .order_by("chatbot_id", "-occurred_at", "-pk")
        .values_list("chatbot_id", "payload__value__state", "occurred_at")
    )
    states: dict[int, tuple[str, datetime]] = {}
    for chatbot_id, state, at in rows:
        states.setdefault(chatbot_id, (str(state or ""), at))
    return states


def _connection(record: InboundAccountEvent, bots: list[Chatbot]) -> Outcome:
    """An Evolution instance opened or closed: the owners hear of a disconnection (the bot
    answers nobody until the QR code is read again) and of the reconnection after it."""
    bot = bots[0]
    state = str(record.value.get("state") or "")
    before = (
        InboundEvent.objects.filter(
            chatbot=bot,
            kind=InboundEvent.Kind.ACCOUNT,
            payload__field=CONNECTION_FIELD,
            occurred_at__lt=record.timestamp,
        )
        .exclude(payload__value__state="connecting")
        .order_by("-occurred_at", "-pk")
        .values_list("payload__value__state", flat=True)
        .first()
    )
    if state == "close" and before != "close":
        return Outcome(
            note="",
            notice=_(
                "O número do robô “%(bot)s” desconectou do WhatsApp e não responde a ninguém. "
                "Abra Robôs › Conexão no painel de atendimento e leia o código QR de novo."
            )
            % {"bot": bot.name},
        )
    if state == "open" and before == "close":
        return Outcome(
            note="",
            notice=_("O número do robô “%(bot)s” voltou a se conectar ao WhatsApp.")
            % {"bot": bot.name},
        )
    return Outcome(note="")


HANDLERS: dict[str, Callable[[InboundAccountEvent, list[Chatbot]], Outcome]] = {
    CONNECTION_FIELD: _connection,
    "message_template_status_update": _template_status,
    "message_template_quality_update": _template_quality,
    "template_category_update": _template_category,
    "message_template_components_update": _template_components,
    "phone_number_quality_update": _number_quality,
    "account_update": _account_update,
}
