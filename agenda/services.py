"""Writes on the agenda: services, appointments, attendance, feedback, job claims and the
Cal.com webhook. Views, admin actions, chat handlers and tasks call these, never `.save()`.

No double booking: on PostgreSQL the exclusion constraint `agenda_sem_sobreposicao` is the
guard (our check before inserting only gives a friendlier early answer); on SQLite the
check runs inside `transaction.atomic()`, whose BEGIN IMMEDIATE (settings) holds the
database write lock, so two writers cannot both pass it.

When the tenant uses Cal.com, Cal.com is called first and our row is written after it
answers, so a Cal.com failure changes nothing here (AgendaIndisponivel) and no database
transaction is held open during the HTTP call.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agenda import calcom
from agenda.availability import (
    configuracao_ativa,
    event_type_do_servico,
    fuso_do_tenant,
    horario_validar,
)
from agenda.errors import (
    AgendaIndisponivel,
    SlotTaken,
    WebhookAssinaturaInvalida,
    WebhookInvalido,
)
from agenda.models import (
    Agendamento,
    CalWebhookEvento,
    ConfiguracaoAgenda,
    FeedbackEvent,
    Servico,
)
from agenda.selectors import LEMBRETES, configuracao_obter, horario_ocupado
from billing.models import Tenant
from clientes.models import Cliente
from clientes.phones import InvalidPhone, normalize_phone
from clientes.services import cliente_create, cliente_upsert_from_whatsapp

logger = logging.getLogger(__name__)

CONSTRAINT_SOBREPOSICAO = "agenda_sem_sobreposicao"
CONSTRAINT_UID = "agenda_cal_uid_unico"


# --- configuration and services ---------------------------------------------------------


def configuracao_definir(*, tenant: Tenant, **campos: Any) -> ConfiguracaoAgenda:
    """Create or update the tenant's agenda configuration (fonte, Cal.com keys, rules)."""
    if "fonte" in campos and campos["fonte"] not in ConfiguracaoAgenda.Fonte.values:
        raise ValidationError({"fonte": _("Fonte de disponibilidade desconhecida.")})
    config, _criada = ConfiguracaoAgenda.objects.get_or_create(tenant=tenant)
    for campo, valor in campos.items():
        setattr(config, campo, valor)
    config.full_clean()
    config.save()
    return config


def servico_criar(
    *,
    tenant: Tenant,
    nome: str,
    duracao_minutos: int,
    preco=None,
    cal_event_type_id: int | None = None,
    ativo: bool = True,
) -> Servico:
    servico = Servico(
        tenant=tenant,
        nome=nome,
        duracao_minutos=duracao_minutos,
        preco=preco,
        cal_event_type_id=cal_event_type_id,
        ativo=ativo,
    )
    servico.full_clean()
    servico.save()
    return servico


def servico_atualizar(*, servico: Servico, **mudancas: Any) -> Servico:
    for campo, valor in mudancas.items():
        setattr(servico, campo, valor)
    servico.full_clean()
    servico.save()
    return servico


def servico_excluir(*, servico: Servico) -> None:
    if servico.agendamentos.exists():
        raise ValidationError(
            _("Este serviço tem agendamentos e não pode ser excluído; desative-o em vez disso.")
        )
    servico.delete()


# --- the no-overlap insert --------------------------------------------------------------


def _constraint_violada(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    nome = getattr(diag, "constraint_name", None) or ""
    if nome:
        return nome
    texto = str(exc)
    for candidato in (CONSTRAINT_SOBREPOSICAO, CONSTRAINT_UID):
        if candidato in texto:
            return candidato
    return ""


# PostgreSQL checks an exclusion constraint after inserting the index entry, so two
# overlapping inserts racing each other can each wait for the other: one of them is then
# aborted with "deadlock detected" (SQLSTATE 40P01) instead of an exclusion violation.
# Retrying that insert waits for the winner and gets the plain answer.
DEADLOCK = "40P01"
TENTATIVAS_INSERT = 3


def _sqlstate(exc: Exception) -> str:
    causa = exc.__cause__
    return getattr(causa, "sqlstate", None) or getattr(getattr(causa, "diag", None), "sqlstate", "")


def _inserir(**campos: Any) -> Agendamento:
    """Insert an active appointment or raise SlotTaken. Other IntegrityErrors propagate."""
    agendamento = Agendamento(**campos)
    with transaction.atomic():
        if horario_ocupado(
            tenant_id=agendamento.tenant_id, inicio=agendamento.inicio, fim=agendamento.fim
        ):
            raise SlotTaken()
        for tentativa in range(1, TENTATIVAS_INSERT + 1):
            try:
                with transaction.atomic():
                    agendamento.save(force_insert=True)
                break
            except IntegrityError as exc:
                if _constraint_violada(exc) == CONSTRAINT_SOBREPOSICAO:
                    raise SlotTaken() from exc
                raise
            except OperationalError as exc:
                if _sqlstate(exc) != DEADLOCK or tentativa == TENTATIVAS_INSERT:
                    raise
                agendamento.pk = None
                logger.info("agenda insert deadlock, retrying", extra={"tentativa": tentativa})
    return agendamento


def _mesmo_tenant(tenant: Tenant, **objetos: Any) -> None:
    for nome, objeto in objetos.items():
        if objeto.tenant_id != tenant.pk:
            raise ValidationError({nome: _("Este registro pertence a outra empresa.")})


# --- appointments -----------------------------------------------------------------------


def agendamento_criar(
    *,
    tenant: Tenant,
    cliente: Cliente,
    servico: Servico,
    inicio: datetime,
    origem: str,
    observacoes: str = "",
) -> Agendamento:
    """Book `servico` for `cliente` at `inicio` (aware); `fim` follows from the duration.

    Raises ValidationError (outside the bookable window, inactive service), SlotTaken (the
    time is taken), AgendaNaoConfigurada, or AgendaIndisponivel (Cal.com failed: nothing
    was booked anywhere).
    """
    _mesmo_tenant(tenant, cliente=cliente, servico=servico)
    if origem not in Agendamento.Origem.values:
        raise ValidationError({"origem": _("Origem de agendamento desconhecida.")})
    if not servico.ativo:
        raise ValidationError({"servico": _("Este serviço não está disponível para agendamento.")})
    config = configuracao_ativa(tenant)
    fim = inicio + timedelta(minutes=servico.duracao_minutos)
    horario_validar(
        tenant=tenant,
        config=config,
        inicio=inicio,
        fim=fim,
        exigir_antecedencia=origem == Agendamento.Origem.CHAT,
    )
    campos: dict[str, Any] = {
        "tenant": tenant,
        "cliente": cliente,
        "servico": servico,
        "inicio": inicio,
        "fim": fim,
        "origem": origem,
        "observacoes": observacoes,
        "status": Agendamento.Status.PENDENTE,
    }
    if config.fonte != ConfiguracaoAgenda.Fonte.CALCOM:
        return _inserir(**campos)

    if not cliente.telefone:
        # Cal.com needs the attendee's phone or email, and a customer here may have neither.
        raise ValidationError(
            {"cliente": _("Para agendar pelo Cal.com, o cliente precisa ter telefone.")}
        )
    # Do not bother Cal.com for a time we already know is taken.
    if horario_ocupado(tenant_id=tenant.pk, inicio=inicio, fim=fim):
        raise SlotTaken()
    reserva = calcom.reserva_criar(
        api_key=config.cal_api_key,
        event_type_id=event_type_do_servico(servico=servico, config=config),
        inicio=inicio,
        nome=cliente.nome,
        fuso=str(fuso_do_tenant(tenant)),
        telefone=cliente.telefone,
        metadata={"origem": origem, "cliente_id": str(cliente.pk), "empresa": tenant.slug},
    )
    campos["cal_booking_uid"] = reserva.uid
    if reserva.fim and reserva.inicio and reserva.fim > reserva.inicio:
        campos["inicio"], campos["fim"] = reserva.inicio, reserva.fim
    try:
        return _inserir(**campos)
    except (SlotTaken, IntegrityError):
        # Cal.com's BOOKING_CREATED webhook may have stored this very booking first.
        existente = Agendamento.objects.filter(tenant=tenant, cal_booking_uid=reserva.uid).first()
        if existente is not None:
            existente.origem, existente.observacoes = origem, observacoes or existente.observacoes
            existente.save(update_fields=["origem", "observacoes", "atualizado_em"])
            return existente
        _calcom_desfazer(config=config, uid=reserva.uid)
        raise


def _calcom_desfazer(*, config: ConfiguracaoAgenda, uid: str) -> None:
    """Best effort: cancel a Cal.com booking we could not store (it would block the slot)."""
    try:
        calcom.reserva_cancelar(
            api_key=config.cal_api_key, uid=uid, motivo=_("Horário ocupado em outro canal")
        )
    except AgendaIndisponivel:
        logger.error("cal.com booking left without a local appointment", extra={"uid": uid})


def agendamento_confirmar(*, agendamento: Agendamento) -> Agendamento:
    """The customer confirms they will come. Confirming twice is harmless."""
    if agendamento.status == Agendamento.Status.CONFIRMADO:
        return agendamento
    atualizados = Agendamento.objects.filter(
        pk=agendamento.pk, status=Agendamento.Status.PENDENTE
    ).update(status=Agendamento.Status.CONFIRMADO, atualizado_em=timezone.now())
    agendamento.refresh_from_db()
    if not atualizados and agendamento.status != Agendamento.Status.CONFIRMADO:
        raise ValidationError(
            _("Este agendamento está %(status)s e não pode ser confirmado.")
            % {"status": agendamento.get_status_display().lower()}
        )
    return agendamento


def agendamento_cancelar(
    *, agendamento: Agendamento, motivo: str = "", sincronizar_calcom: bool = True
) -> Agendamento:
    """Cancel an active appointment (also in Cal.com when it came from there).

    `sincronizar_calcom=False` is for changes that Cal.com itself told us about. Cancelling
    twice is harmless; a Cal.com failure raises AgendaIndisponivel and changes nothing.
    """
    if agendamento.status == Agendamento.Status.CANCELADO:
        return agendamento
    if not agendamento.ativo:
        raise ValidationError(
            _("Este agendamento está %(status)s e não pode ser cancelado.")
            % {"status": agendamento.get_status_display().lower()}
        )
    if sincronizar_calcom and agendamento.cal_booking_uid:
        config = configuracao_obter(tenant=agendamento.tenant)
        if config is not None and config.cal_api_key:
            calcom.reserva_cancelar(
                api_key=config.cal_api_key, uid=agendamento.cal_booking_uid, motivo=motivo
            )
        else:
            logger.warning(
                "cancelled locally without cal.com key", extra={"agendamento": agendamento.pk}
            )
    Agendamento.objects.filter(pk=agendamento.pk, status__in=Agendamento.ATIVOS).update(
        status=Agendamento.Status.CANCELADO, atualizado_em=timezone.now()
    )
    agendamento.refresh_from_db()
    logger.info("agendamento cancelado", extra={"agendamento": agendamento.pk})
    return agendamento


def _reagendar_local(
    *, agendamento_id: int, novo_inicio: datetime, novo_fim: datetime, novo_uid: str
) -> Agendamento:
    with transaction.atomic():
        atual = Agendamento.objects.select_for_update().get(pk=agendamento_id)
        if novo_uid and atual.reagendado_para_id:
            feito = atual.reagendado_para
            if feito.cal_booking_uid == novo_uid:  # Cal.com's webhook already applied it
                return feito
        if not atual.ativo:
            raise ValidationError(
                _("Este agendamento está %(status)s e não pode ser reagendado.")
                % {"status": atual.get_status_display().lower()}
            )
        status_anterior = atual.status
        atual.status = Agendamento.Status.REAGENDADO
        atual.save(update_fields=["status", "atualizado_em"])
        novo = _inserir(
            tenant_id=atual.tenant_id,
            cliente_id=atual.cliente_id,
            servico_id=atual.servico_id,
            inicio=novo_inicio,
            fim=novo_fim,
            status=status_anterior,
            origem=atual.origem,
            observacoes=atual.observacoes,
            cal_booking_uid=novo_uid,
        )
        atual.reagendado_para = novo
        atual.save(update_fields=["reagendado_para", "atualizado_em"])
    logger.info(
        "agendamento reagendado",
        extra={"agendamento": atual.pk, "novo": novo.pk, "novo_inicio": novo_inicio.isoformat()},
    )
    return novo


def agendamento_reagendar(*, agendamento: Agendamento, novo_inicio: datetime) -> Agendamento:
    """Move an active appointment: the old row becomes `reagendado` and points to the new one,
    which is returned (same customer, service and status; reminders start afresh).

    Bookings that came from Cal.com are moved there first (Cal.com gives a new uid).
    Raises ValidationError, SlotTaken, AgendaNaoConfigurada or AgendaIndisponivel; on any
    of them the old appointment stays as it was.
    """
    if not agendamento.ativo:
        raise ValidationError(
            _("Este agendamento está %(status)s e não pode ser reagendado.")
            % {"status": agendamento.get_status_display().lower()}
        )
    tenant = agendamento.tenant
    config = configuracao_ativa(tenant)
    novo_fim = novo_inicio + timedelta(minutes=agendamento.servico.duracao_minutos)
    horario_validar(
        tenant=tenant,
        config=config,
        inicio=novo_inicio,
        fim=novo_fim,
        exigir_antecedencia=agendamento.origem == Agendamento.Origem.CHAT,
    )
    if horario_ocupado(
        tenant_id=tenant.pk, inicio=novo_inicio, fim=novo_fim, exceto=agendamento.pk
    ):
        raise SlotTaken()
    novo_uid = ""
    if agendamento.cal_booking_uid and config.fonte == ConfiguracaoAgenda.Fonte.CALCOM:
        reserva = calcom.reserva_reagendar(
            api_key=config.cal_api_key, uid=agendamento.cal_booking_uid, novo_inicio=novo_inicio
        )
        novo_uid = reserva.uid
        if reserva.inicio and reserva.fim and reserva.fim > reserva.inicio:
            novo_inicio, novo_fim = reserva.inicio, reserva.fim
    try:
        return _reagendar_local(
            agendamento_id=agendamento.pk,
            novo_inicio=novo_inicio,
            novo_fim=novo_fim,
            novo_uid=novo_uid,
        )
    except (SlotTaken, ValidationError):
        if novo_uid:
            logger.error(
                "cal.com rescheduled but the local appointment could not move",
                extra={"agendamento": agendamento.pk, "uid": novo_uid},
            )
        raise


def agendamento_marcar_presenca(*, agendamento: Agendamento, compareceu: bool) -> Agendamento:
    """Staff record whether the customer came: `concluido` or `nao_compareceu`.

    Also corrects an automatic no-show. Refused before the start and for cancelled or
    rescheduled appointments.
    """
    permitidos = {
        *Agendamento.ATIVOS,
        Agendamento.Status.CONCLUIDO,
        Agendamento.Status.NAO_COMPARECEU,
    }
    if agendamento.status not in permitidos:
        raise ValidationError(
            _("Este agendamento está %(status)s; não há presença para marcar.")
            % {"status": agendamento.get_status_display().lower()}
        )
    if agendamento.inicio > timezone.now():
        raise ValidationError(_("Este agendamento ainda não começou."))
    agendamento.compareceu = compareceu
    agendamento.status = (
        Agendamento.Status.CONCLUIDO if compareceu else Agendamento.Status.NAO_COMPARECEU
    )
    agendamento.save(update_fields=["compareceu", "status", "atualizado_em"])
    return agendamento


def agendamento_marcar_no_show(*, agendamento_id: int) -> bool:
    """The no-show job's claim: an active appointment becomes `nao_compareceu`. True only for
    the one caller that changed it, so the "want to rebook?" message goes out once."""
    return bool(
        Agendamento.objects.filter(pk=agendamento_id, status__in=Agendamento.ATIVOS).update(
            status=Agendamento.Status.NAO_COMPARECEU,
            compareceu=False,
            atualizado_em=timezone.now(),
        )
    )


def lembrete_reivindicar(*, agendamento_id: int, tipo: str, agora: datetime) -> bool:
    """Claim the `tipo` ("24h"/"1h") reminder of one appointment with a conditional UPDATE:
    True for exactly one caller, however many beat ticks or workers race for it."""
    campo = LEMBRETES[tipo][0]
    return bool(
        Agendamento.objects.filter(
            pk=agendamento_id, status__in=Agendamento.ATIVOS, **{f"{campo}__isnull": True}
        ).update(**{campo: agora})
    )


def lembrete_liberar(*, agendamento_id: int, tipo: str) -> None:
    """Undo a claim whose message could not be queued, so a later tick tries again."""
    campo = LEMBRETES[tipo][0]
    Agendamento.objects.filter(pk=agendamento_id).update(**{campo: None})


def followup_reivindicar(*, agendamento_id: int, agora: datetime) -> bool:
    """Claim the satisfaction question of one attended appointment (once per appointment)."""
    return bool(
        Agendamento.objects.filter(
            pk=agendamento_id,
            status=Agendamento.Status.CONCLUIDO,
            followup_enviado_em__isnull=True,
        ).update(followup_enviado_em=agora)
    )


def feedback_registrar(
    *, agendamento: Agendamento, nota: int, comentario: str = ""
) -> FeedbackEvent:
    """Store the customer's score (1-5). Answering again replaces the score."""
    try:
        nota = int(nota)
    except (TypeError, ValueError):
        nota = 0
    if not 1 <= nota <= 5:
        raise ValidationError({"nota": _("A nota deve ser de 1 a 5.")})
    defaults: dict[str, Any] = {
        "tenant_id": agendamento.tenant_id,
        "nota": nota,
        "recebido_em": timezone.now(),
    }
    if comentario:
        defaults["comentario"] = comentario.strip()[:2000]
    feedback, _criado = FeedbackEvent.objects.update_or_create(
        agendamento=agendamento, defaults=defaults
    )
    return feedback


def feedback_comentar(*, agendamento: Agendamento, comentario: str) -> FeedbackEvent | None:
    """Attach the free-text comment sent after the score; None if there is no score yet."""
    feedback = FeedbackEvent.objects.filter(agendamento=agendamento).first()
    if feedback is None or not comentario.strip():
        return feedback
    texto = comentario.strip()
    feedback.comentario = f"{feedback.comentario}\n{texto}".strip()[:2000]
    feedback.save(update_fields=["comentario"])
    return feedback


# --- Cal.com webhook --------------------------------------------------------------------

_PARECE_TELEFONE = re.compile(r"^\+?[\d\s().-]{8,20}$")


def _valor(resposta: Any) -> Any:
    """Cal.com booking responses are either plain values or {"value": ..., ...}."""
    return resposta.get("value") if isinstance(resposta, dict) else resposta


def _telefones_do_payload(payload: dict) -> list[str]:
    candidatos: list[Any] = []
    for participante in payload.get("attendees") or []:
        if isinstance(participante, dict):
            candidatos.append(participante.get("phoneNumber"))
    respostas = payload.get("responses") or {}
    if isinstance(respostas, dict):
        for chave in ("attendeePhoneNumber", "phone"):
            candidatos.append(_valor(respostas.get(chave)))
        local = respostas.get("location")
        if isinstance(local, dict):
            candidatos.extend([local.get("value"), local.get("optionValue")])
        else:
            candidatos.append(local)
    telefones = []
    for candidato in candidatos:
        if isinstance(candidato, str) and _PARECE_TELEFONE.match(candidato.strip()):
            try:
                telefones.append(normalize_phone(candidato))
            except InvalidPhone:
                continue
    return telefones


def _nome_do_payload(payload: dict) -> str:
    for participante in payload.get("attendees") or []:
        if isinstance(participante, dict) and participante.get("name"):
            return str(participante["name"])[:200]
    respostas = payload.get("responses") or {}
    nome = _valor(respostas.get("name")) if isinstance(respostas, dict) else None
    return str(nome)[:200] if isinstance(nome, str) else ""


def _cliente_do_payload(*, tenant: Tenant, payload: dict) -> Cliente:
    nome = _nome_do_payload(payload)
    telefones = _telefones_do_payload(payload)
    if telefones:
        return cliente_upsert_from_whatsapp(tenant=tenant, wa_id=telefones[0], nome=nome)
    # No phone (an email-only attendee): keep the booking; staff can add the phone later.
    return cliente_create(tenant=tenant, nome=nome or _("Cliente do Cal.com"))


def _servico_do_payload(
    *, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, duracao: timedelta
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
    minutos = max(5, int(duracao.total_seconds() // 60))
    nome = str(payload.get("type") or payload.get("title") or "Cal.com")[:120]
    servico, _criado = Servico.objects.get_or_create(
        tenant=tenant,
        cal_event_type_id=event_type_id,
        nome=nome,
        defaults={"duracao_minutos": minutos, "ativo": False},
    )
    return servico


def _horarios_do_payload(payload: dict) -> tuple[datetime, datetime]:
    inicio = calcom._data_hora(payload.get("startTime"))
    fim = calcom._data_hora(payload.get("endTime"))
    if inicio is None or fim is None or fim <= inicio:
        raise WebhookInvalido(_("O webhook do Cal.com não trouxe startTime/endTime válidos."))
    return inicio, fim


def _cal_criar_local(*, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, uid: str) -> str:
    inicio, fim = _horarios_do_payload(payload)
    cliente = _cliente_do_payload(tenant=tenant, payload=payload)
    servico = _servico_do_payload(
        tenant=tenant, config=config, payload=payload, duracao=fim - inicio
    )
    try:
        _inserir(
            tenant=tenant,
            cliente=cliente,
            servico=servico,
            inicio=inicio,
            fim=fim,
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
    return _cal_criar_local(tenant=tenant, config=config, payload=payload, uid=uid)


def _cal_booking_rescheduled(
    *, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, uid: str
) -> str:
    # Which of uid / rescheduleUid is the old booking is unconfirmed (Cal.com: https://cal.com/docs/developing/guides/automation/webhooks):
    # the one we already hold as active is the old one, the other one is the new.
    outro = str(payload.get("rescheduleUid") or "")
    uids = [u for u in (uid, outro) if u]
    antigo = (
        Agendamento.objects.filter(
            tenant=tenant, cal_booking_uid__in=uids, status__in=Agendamento.ATIVOS
        )
        .order_by("inicio")
        .first()
    )
    inicio, fim = _horarios_do_payload(payload)
    novo_uid = next((u for u in uids if antigo is None or u != antigo.cal_booking_uid), "")
    if antigo is None:
        if Agendamento.objects.filter(tenant=tenant, cal_booking_uid=uid).exists():
            return "já existia"
        return _cal_criar_local(tenant=tenant, config=config, payload=payload, uid=uid)
    if not novo_uid:
        # Same uid, new time: Cal.com moved the booking in place.
        if horario_ocupado(tenant_id=tenant.pk, inicio=inicio, fim=fim, exceto=antigo.pk):
            return "conflito: horário ocupado por outro agendamento"
        antigo.inicio, antigo.fim = inicio, fim
        antigo.lembrete_24h_enviado_em = antigo.lembrete_1h_enviado_em = None
        antigo.save()
        return "horário alterado"
    if Agendamento.objects.filter(tenant=tenant, cal_booking_uid=novo_uid).exists():
        return "já existia"
    try:
        _reagendar_local(
            agendamento_id=antigo.pk, novo_inicio=inicio, novo_fim=fim, novo_uid=novo_uid
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
    agendamento_cancelar(agendamento=agendamento, sincronizar_calcom=False)
    return "cancelado"


def _cal_meeting_ended(
    *, tenant: Tenant, config: ConfiguracaoAgenda, payload: dict, uid: str
) -> str:
    # Cal.com fires this on schedule at the end time; we take it as "it took place", which
    # keeps the no-show job from flagging it. Staff can still correct attendance.
    atualizados = Agendamento.objects.filter(
        tenant=tenant, cal_booking_uid=uid, status__in=Agendamento.ATIVOS
    ).update(status=Agendamento.Status.CONCLUIDO, compareceu=True, atualizado_em=timezone.now())
    return "concluído" if atualizados else "nada a fazer"


CAL_WEBHOOK_HANDLERS = {
    "BOOKING_CREATED": _cal_booking_created,
    "BOOKING_RESCHEDULED": _cal_booking_rescheduled,
    "BOOKING_CANCELLED": _cal_booking_cancelled,
    "MEETING_ENDED": _cal_meeting_ended,
}


def calcom_webhook_receber(*, tenant: Tenant, raw_body: bytes, assinatura: str | None) -> str:
    """Apply one Cal.com webhook delivery to the tenant's appointments; returns what it did.

    Raises WebhookAssinaturaInvalida (answer 401) before reading anything, and
    WebhookInvalido (400) for an unreadable body; in both cases nothing is stored. A repeat
    of an applied (triggerEvent, payload.uid) does nothing and returns "duplicado".
    """
    config = configuracao_obter(tenant=tenant)
    segredo = config.cal_webhook_secret if config is not None else ""
    if not segredo:
        raise WebhookAssinaturaInvalida(
            _("Configure o segredo do webhook do Cal.com na agenda da empresa.")
        )
    if not calcom.verificar_assinatura(raw_body=raw_body, header=assinatura, secret=segredo):
        raise WebhookAssinaturaInvalida()
    try:
        envelope = json.loads(raw_body)
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
        evento, criado = CalWebhookEvento.objects.get_or_create(
            tenant=tenant, trigger=trigger, uid=uid
        )
        if not criado:
            return "duplicado"
        resultado = handler(tenant=tenant, config=config, payload=payload, uid=uid)
        evento.resultado = resultado[:200]
        evento.save(update_fields=["resultado"])
        if resultado not in CAL_SEM_MUDANCA:
            _auditar_calcom(tenant=tenant, trigger=trigger, uid=uid, resultado=resultado)
    logger.info("cal.com webhook", extra={"trigger": trigger, "result": resultado})
    return resultado


# What a Cal.com delivery may answer without having changed any appointment.
CAL_SEM_MUDANCA = frozenset({"ignorado", "duplicado", "nada a fazer", "desconhecido", "já existia"})


def _auditar_calcom(*, tenant: Tenant, trigger: str, uid: str, resultado: str) -> None:
    """Changes made by Cal.com (a reschedule or cancellation on its side) are audited like the
    ones made in the chat, the admin or the API, with Cal.com as the actor."""
    from compliance import audit

    audit.record_quietly(
        tenant=tenant,
        actor=audit.system_actor("calcom-webhook"),
        action=f"calcom.{trigger.lower()}",
        object_type="agenda.agendamento",
        object_id=uid,
        changes={"resultado": [None, resultado]},
    )
