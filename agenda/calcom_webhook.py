"""The Cal.com webhook: one signed delivery becomes a change to the tenant's appointments.

Cal.com sends BOOKING_CREATED, BOOKING_RESCHEDULED, BOOKING_CANCELLED and MEETING_ENDED
(Cal.com: https://cal.com/docs/developing/guides/automation/webhooks), signed with the
webhook's secret (agenda.calcom.verify_signature). Each (triggerEvent, booking uid) is
applied once: CalWebhookEvento keeps what was done, so Cal.com's retries change nothing.
The view (agenda.api.views) only maps the errors to 401 and 400.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agenda import calcom
from agenda.errors import SlotTaken, WebhookAssinaturaInvalida, WebhookInvalido
from agenda.models import Agendamento, CalWebhookEvento, ConfiguracaoAgenda, Servico
from agenda.selectors import configuracao_get, horario_is_taken
from agenda.services import (
    agendamento_audit,
    agendamento_cancel,
    agendamento_insert,
    agendamento_reschedule_local,
)
from billing.models import Tenant
from clientes.models import Cliente
from clientes.phones import InvalidPhone, normalize_phone
from clientes.services import cliente_create, cliente_upsert_from_whatsapp
from config.webhooks import load_json

logger = logging.getLogger(__name__)

_LOOKS_LIKE_PHONE = re.compile(r"^\+?[\d\s().-]{8,20}$")

# What a Cal.com delivery may answer without having changed any appointment.
CAL_NO_CHANGE = frozenset({"ignorado", "duplicado", "nada a fazer", "desconhecido", "já existia"})


def _answer_value(answer: Any) -> Any:
    """Cal.com booking responses are either plain values or {"value": ..., ...}."""
    return answer.get("value") if isinstance(answer, dict) else answer


def _payload_phones(payload: dict) -> list[str]:
    candidates: list[Any] = []
    for attendee in payload.get("attendees") or []:
        if isinstance(attendee, dict):
            candidates.append(attendee.get("phoneNumber"))
    responses = payload.get("responses") or {}
    if isinstance(responses, dict):
        for key in ("attendeePhoneNumber", "phone"):
            candidates.append(_answer_value(responses.get(key)))
        location = responses.get("location")
        if isinstance(location, dict):
            candidates.extend([location.get("value"), location.get("optionValue")])
        else:
            candidates.append(location)
    phones = []
    for candidate in candidates:
        if isinstance(candidate, str) and _LOOKS_LIKE_PHONE.match(candidate.strip()):
            try:
                phones.append(normalize_phone(candidate))
            except InvalidPhone:
                continue
    return phones


def _payload_name(payload: dict) -> str:
    for attendee in payload.get("attendees") or []:
        if isinstance(attendee, dict) and attendee.get("name"):
            return str(attendee["name"])[:200]
    responses = payload.get("responses") or {}
    name = _answer_value(responses.get("name")) if isinstance(responses, dict) else None
    return str(name)[:200] if isinstance(name, str) else ""


def _payload_cliente(*, tenant: Tenant, payload: dict) -> Cliente:
    name = _payload_name(payload)
    phones = _payload_phones(payload)
    if phones:
        return cliente_upsert_from_whatsapp(tenant=tenant, wa_id=phones[0], nome=name)
    # No phone (an email-only attendee): keep the booking; staff can add the phone later.
    return cliente_create(tenant=tenant, nome=name or _("Cliente do Cal.com"))


def _payload_servico(
    *, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, duration: timedelta
) -> Servico:
    event_type_id = payload.get("eventTypeId")
    if isinstance(event_type_id, int | str) and str(event_type_id).isdigit():
        event_type_id = int(event_type_id)
        servico = Servico.objects.filter(tenant=tenant, cal_event_type_id=event_type_id).first()
        if servico is None and event_type_id == config.cal_event_type_id:
            servico = Servico.objects.filter(
                tenant=tenant, cal_event_type_id__isnull=True, ativo=True
            ).first()
        if servico is not None:
            return servico
    else:
        event_type_id = None
    # An event type we do not know yet: keep the booking under a new, inactive service
    # that staff can rename and activate.
    minutes = max(5, int(duration.total_seconds() // 60))
    name = str(payload.get("type") or payload.get("title") or "Cal.com")[:120]
    servico, _created = Servico.objects.get_or_create(
        tenant=tenant,
        cal_event_type_id=event_type_id,
        nome=name,
        defaults={"duracao_minutos": minutes, "ativo": False},
    )
    return servico


def _payload_times(payload: dict) -> tuple[datetime, datetime]:
    start = calcom.parse_datetime(payload.get("startTime"))
    end = calcom.parse_datetime(payload.get("endTime"))
    if start is None or end is None or end <= start:
        raise WebhookInvalido(_("O webhook do Cal.com não trouxe startTime/endTime válidos."))
    return start, end


def _cal_create_local(
    *, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, uid: str
) -> str:
    start, end = _payload_times(payload)
    cliente = _payload_cliente(tenant=tenant, payload=payload)
    servico = _payload_servico(tenant=tenant, config=config, payload=payload, duration=end - start)
    try:
        agendamento_insert(
            tenant=tenant,
            cliente=cliente,
            servico=servico,
            inicio=start,
            fim=end,
            origem=Agendamento.Origem.CALCOM,
            status=Agendamento.Status.PENDENTE,
            cal_booking_uid=uid,
            observacoes=str(payload.get("additionalNotes") or "")[:2000],
        )
    except (SlotTaken, IntegrityError):
        if Agendamento.objects.filter(tenant=tenant, cal_booking_uid=uid).exists():
            return "já existia"
        logger.warning("cal.com booking overlaps a local appointment", extra={"uid": uid})
        return "conflito: horário ocupado por outro agendamento"
    return "criado"


def _cal_booking_created(
    *, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, uid: str
) -> str:
    if Agendamento.objects.filter(tenant=tenant, cal_booking_uid=uid).exists():
        return "já existia"
    return _cal_create_local(tenant=tenant, config=config, payload=payload, uid=uid)


def _cal_booking_rescheduled(
    *, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, uid: str
) -> str:
    # Which of uid / rescheduleUid is the old booking is unconfirmed (Cal.com: https://cal.com/docs/developing/guides/automation/webhooks):
    # the one we already hold as active is the old one, the other one is the new.
    other_uid = str(payload.get("rescheduleUid") or "")
    uids = [u for u in (uid, other_uid) if u]
    old = (
        Agendamento.objects.filter(
            tenant=tenant, cal_booking_uid__in=uids, status__in=Agendamento.ATIVOS
        )
        .order_by("inicio")
        .first()
    )
    start, end = _payload_times(payload)
    new_uid = next((u for u in uids if old is None or u != old.cal_booking_uid), "")
    if old is None:
        if Agendamento.objects.filter(tenant=tenant, cal_booking_uid=uid).exists():
            return "já existia"
        return _cal_create_local(tenant=tenant, config=config, payload=payload, uid=uid)
    if not new_uid:
        # Same uid, new time: Cal.com moved the booking in place.
        if horario_is_taken(tenant_id=tenant.pk, inicio=start, fim=end, exceto=old.pk):
            return "conflito: horário ocupado por outro agendamento"
        old.inicio, old.fim = start, end
        old.lembrete_24h_enviado_em = old.lembrete_1h_enviado_em = None
        old.save()
        return "horário alterado"
    if Agendamento.objects.filter(tenant=tenant, cal_booking_uid=new_uid).exists():
        return "já existia"
    try:
        agendamento_reschedule_local(
            agendamento_id=old.pk, novo_inicio=start, novo_fim=end, novo_uid=new_uid
        )
    except SlotTaken:
        return "conflito: horário ocupado por outro agendamento"
    return "reagendado"


def _cal_booking_cancelled(
    *, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, uid: str
) -> str:
    agendamento = Agendamento.objects.filter(tenant=tenant, cal_booking_uid=uid).first()
    if agendamento is None:
        return "desconhecido"
    if not agendamento.ativo:
        return "nada a fazer"
    agendamento_cancel(agendamento=agendamento, sincronizar_calcom=False)
    return "cancelado"


def _cal_meeting_ended(
    *, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, uid: str
) -> str:
    # Cal.com fires this on schedule at the end time; we take it as "it took place", which
    # keeps the no-show job from flagging it. Staff can still correct attendance.
    updated = Agendamento.objects.filter(
        tenant=tenant, cal_booking_uid=uid, status__in=Agendamento.ATIVOS
    ).update(status=Agendamento.Status.CONCLUIDO, compareceu=True, atualizado_em=timezone.now())
    return "concluído" if updated else "nada a fazer"


CAL_WEBHOOK_HANDLERS = {
    "BOOKING_CREATED": _cal_booking_created,
    "BOOKING_RESCHEDULED": _cal_booking_rescheduled,
    "BOOKING_CANCELLED": _cal_booking_cancelled,
    "MEETING_ENDED": _cal_meeting_ended,
}


def calcom_webhook_receive(*, tenant: Tenant, raw_body: bytes, assinatura: str | None) -> str:
    """Apply one Cal.com webhook delivery to the tenant's appointments; returns what it did.

    Raises WebhookAssinaturaInvalida (answer 401) before reading anything, and
    WebhookInvalido (400) for an unreadable body; in both cases nothing is stored. A repeat
    of an applied (triggerEvent, payload.uid) does nothing and returns "duplicado".
    """
    config = configuracao_get(tenant=tenant)
    secret = config.cal_webhook_secret if config is not None else ""
    if not secret:
        raise WebhookAssinaturaInvalida(
            _("Configure o segredo do webhook do Cal.com na agenda da empresa.")
        )
    if not calcom.verify_signature(raw_body=raw_body, header=assinatura, secret=secret):
        raise WebhookAssinaturaInvalida()
    try:
        # NaN, \u0000, deep nesting: what PostgreSQL or our code cannot take (config.webhooks).
        envelope = load_json(raw_body)
    except ValueError:
        raise WebhookInvalido(_("O corpo do webhook do Cal.com não é JSON."))
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), dict):
        raise WebhookInvalido(_("O webhook do Cal.com não tem triggerEvent e payload."))
    trigger = str(envelope.get("triggerEvent") or "")
    handler = CAL_WEBHOOK_HANDLERS.get(trigger)
    if handler is None:
        return "ignorado"
    payload = envelope["payload"]
    uid = str(payload.get("uid") or payload.get("bookingUid") or "")[:100]
    if not uid:
        raise WebhookInvalido(_("O webhook do Cal.com não trouxe o uid da reserva."))
    with transaction.atomic():
        event, created = CalWebhookEvento.objects.get_or_create(
            tenant=tenant, trigger=trigger, uid=uid
        )
        if not created:
            return "duplicado"
        result = handler(tenant=tenant, config=config, payload=payload, uid=uid)
        event.resultado = result[:200]
        event.save(update_fields=["resultado"])
        if result not in CAL_NO_CHANGE:
            # Changes made on Cal.com's side are audited like the ones made in the chat,
            # the admin or the API, with Cal.com as the actor.
            agendamento_audit(
                tenant=tenant,
                action=f"calcom.{trigger.lower()}",
                cal_booking_uid=uid,
                changes={"resultado": [None, result]},
            )
    logger.info("cal.com webhook", extra={"trigger": trigger, "result": result})
    return result
