"""Writes on the agenda: configuration, services, appointments, attendance, feedback, the
periodic jobs' claims and the agenda's audit entries. Views, admin actions, chat handlers,
tasks and the Cal.com webhook mapping (agenda.calcom_webhook) call these, never `.save()`.

No double booking: on PostgreSQL the exclusion constraint `agenda_sem_sobreposicao` is the
guard (our check before inserting only gives a friendlier early answer); on SQLite the
check runs inside `transaction.atomic()`, whose BEGIN IMMEDIATE (settings) holds the
database write lock, so two writers cannot both pass it.

When the tenant uses Cal.com, Cal.com is called first and our row is written after it
answers, so a Cal.com failure changes nothing here (AgendaIndisponivel) and no database
transaction is held open during the HTTP call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from agenda import calcom
from agenda.availability import (
    configuracao_get_active,
    horario_validate,
    servico_event_type,
    tenant_time_zone,
)
from agenda.errors import AgendaIndisponivel, SlotTaken
from agenda.models import (
    DURACAO_PADRAO_MINUTOS,
    Agendamento,
    ConfiguracaoAgenda,
    FeedbackEvent,
    Servico,
)
from agenda.selectors import REMINDERS, configuracao_get, horario_is_taken
from billing.models import Tenant
from clientes.models import Cliente
from compliance import audit

logger = logging.getLogger(__name__)

OVERLAP_CONSTRAINT = "agenda_sem_sobreposicao"
CAL_UID_CONSTRAINT = "agenda_cal_uid_unico"


# --- configuration and services ---------------------------------------------------------


def configuracao_set(*, tenant: Tenant, **campos: Any) -> ConfiguracaoAgenda:
    """Create or update the tenant's agenda configuration (fonte, Cal.com keys, rules)."""
    if "fonte" in campos and campos["fonte"] not in ConfiguracaoAgenda.Fonte.values:
        raise ValidationError({"fonte": _("Fonte de disponibilidade desconhecida.")})
    config, _criada = ConfiguracaoAgenda.objects.get_or_create(tenant=tenant)
    for campo, valor in campos.items():
        setattr(config, campo, valor)
    config.full_clean()
    config.save()
    return config


def servico_create(
    *,
    tenant: Tenant,
    nome: str,
    duracao_minutos: int = DURACAO_PADRAO_MINUTOS,
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


def servico_update(*, servico: Servico, **mudancas: Any) -> Servico:
    for campo, valor in mudancas.items():
        setattr(servico, campo, valor)
    servico.full_clean()
    servico.save()
    return servico


def servico_delete(*, servico: Servico) -> None:
    if servico.agendamentos.exists():
        raise ValidationError(
            _("Este serviço tem agendamentos e não pode ser excluído; desative-o em vez disso.")
        )
    servico.delete()


# --- the no-overlap insert --------------------------------------------------------------


def _violated_constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    nome = getattr(diag, "constraint_name", None) or ""
    if nome:
        return nome
    texto = str(exc)
    for candidato in (OVERLAP_CONSTRAINT, CAL_UID_CONSTRAINT):
        if candidato in texto:
            return candidato
    return ""


# PostgreSQL checks an exclusion constraint after inserting the index entry, so two
# overlapping inserts racing each other can each wait for the other: one of them is then
# aborted with "deadlock detected" (SQLSTATE 40P01) instead of an exclusion violation.
# Retrying that insert waits for the winner and gets the plain answer.
DEADLOCK = "40P01"
INSERT_ATTEMPTS = 3


def _sqlstate(exc: Exception) -> str:
    causa = exc.__cause__
    return getattr(causa, "sqlstate", None) or getattr(getattr(causa, "diag", None), "sqlstate", "")


# What other apps do when an appointment is booked, moved, cancelled or missed (the event
# webhooks: integrations.hooks), registered from their AppConfig.ready: agenda sits below
# them in the layers and imports none of them.
_event_hooks: list[Callable[..., object]] = []


def agendamento_event_hook_register(hook: Callable[..., object]) -> None:
    """Call `hook(kind=, tenant_id=, agendamento_id=, previous_id=)` in the change's
    transaction; kind is "created", "rescheduled" (`previous_id` is the old appointment),
    "cancelled" or "no_show"."""
    if hook not in _event_hooks:
        _event_hooks.append(hook)


def _event(kind: str, *, tenant_id: int, agendamento_id: int, previous_id: int | None = None):
    for hook in _event_hooks:
        try:
            hook(
                kind=kind,
                tenant_id=tenant_id,
                agendamento_id=agendamento_id,
                previous_id=previous_id,
            )
        except Exception:  # an integration's failure must never undo a booking
            logger.exception("agendamento event hook failed", extra={"agendamento": agendamento_id})


def agendamento_insert(**campos: Any) -> Agendamento:
    """Insert an active appointment or raise SlotTaken. Other IntegrityErrors propagate."""
    agendamento = _insert(**campos)
    _event("created", tenant_id=agendamento.tenant_id, agendamento_id=agendamento.pk)
    return agendamento


def _insert(**campos: Any) -> Agendamento:
    agendamento = Agendamento(**campos)
    with transaction.atomic():
        if horario_is_taken(
            tenant_id=agendamento.tenant_id, inicio=agendamento.inicio, fim=agendamento.fim
        ):
            raise SlotTaken()
        for tentativa in range(1, INSERT_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    agendamento.save(force_insert=True)
                break
            except IntegrityError as exc:
                if _violated_constraint(exc) == OVERLAP_CONSTRAINT:
                    raise SlotTaken() from exc
                raise
            except OperationalError as exc:
                if _sqlstate(exc) != DEADLOCK or tentativa == INSERT_ATTEMPTS:
                    raise
                agendamento.pk = None
                logger.info("agenda insert deadlock, retrying", extra={"tentativa": tentativa})
    return agendamento


def _check_same_tenant(tenant: Tenant, **objetos: Any) -> None:
    for nome, objeto in objetos.items():
        if objeto.tenant_id != tenant.pk:
            raise ValidationError({nome: _("Este registro pertence a outra empresa.")})


# --- appointments -----------------------------------------------------------------------


def agendamento_create(
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
    _check_same_tenant(tenant, cliente=cliente, servico=servico)
    if origem not in Agendamento.Origem.values:
        raise ValidationError({"origem": _("Origem de agendamento desconhecida.")})
    if not servico.ativo:
        raise ValidationError({"servico": _("Este serviço não está disponível para agendamento.")})
    config = configuracao_get_active(tenant)
    fim = inicio + timedelta(minutes=servico.duracao_minutos)
    horario_validate(
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
        return agendamento_insert(**campos)

    if not cliente.telefone:
        # Cal.com needs the attendee's phone or email, and a customer here may have neither.
        raise ValidationError(
            {"cliente": _("Para agendar pelo Cal.com, o cliente precisa ter telefone.")}
        )
    # Do not bother Cal.com for a time we already know is taken.
    if horario_is_taken(tenant_id=tenant.pk, inicio=inicio, fim=fim):
        raise SlotTaken()
    reserva = calcom.reserva_create(
        api_key=config.cal_api_key,
        event_type_id=servico_event_type(servico=servico, config=config),
        inicio=inicio,
        nome=cliente.nome,
        fuso=str(tenant_time_zone(tenant)),
        telefone=cliente.telefone,
        metadata={"origem": origem, "cliente_id": str(cliente.pk), "empresa": tenant.slug},
    )
    campos["cal_booking_uid"] = reserva.uid
    if reserva.fim and reserva.inicio and reserva.fim > reserva.inicio:
        campos["inicio"], campos["fim"] = reserva.inicio, reserva.fim
    try:
        return agendamento_insert(**campos)
    except (SlotTaken, IntegrityError):
        # Cal.com's BOOKING_CREATED webhook may have stored this very booking first.
        existente = Agendamento.objects.filter(tenant=tenant, cal_booking_uid=reserva.uid).first()
        if existente is not None:
            existente.origem, existente.observacoes = origem, observacoes or existente.observacoes
            existente.save(update_fields=["origem", "observacoes", "atualizado_em"])
            return existente
        _calcom_undo_booking(config=config, uid=reserva.uid)
        raise


def _calcom_undo_booking(*, config: ConfiguracaoAgenda, uid: str) -> None:
    """Best effort: cancel a Cal.com booking we could not store (it would block the slot)."""
    try:
        calcom.reserva_cancel(
            api_key=config.cal_api_key, uid=uid, motivo=_("Horário ocupado em outro canal")
        )
    except AgendaIndisponivel:
        logger.error("cal.com booking left without a local appointment", extra={"uid": uid})


def agendamento_confirm(*, agendamento: Agendamento) -> Agendamento:
    """The customer confirms they will come. Confirming twice is harmless."""
    if agendamento.status == Agendamento.Status.CONFIRMADO:
        return agendamento
    atualizados = Agendamento.objects.filter(
        pk=agendamento.pk, status=Agendamento.Status.PENDENTE
    ).update(
        status=Agendamento.Status.CONFIRMADO,
        confirmado_em=timezone.now(),
        atualizado_em=timezone.now(),
    )
    agendamento.refresh_from_db()
    if not atualizados and agendamento.status != Agendamento.Status.CONFIRMADO:
        raise ValidationError(
            _("Este agendamento está %(status)s e não pode ser confirmado.")
            % {"status": agendamento.get_status_display().lower()}
        )
    return agendamento


def agendamento_cancel(
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
        config = configuracao_get(tenant=agendamento.tenant)
        if config is not None and config.cal_api_key:
            calcom.reserva_cancel(
                api_key=config.cal_api_key, uid=agendamento.cal_booking_uid, motivo=motivo
            )
        else:
            logger.warning(
                "cancelled locally without cal.com key", extra={"agendamento": agendamento.pk}
            )
    cancelled = Agendamento.objects.filter(pk=agendamento.pk, status__in=Agendamento.ATIVOS).update(
        status=Agendamento.Status.CANCELADO, atualizado_em=timezone.now()
    )
    agendamento.refresh_from_db()
    if cancelled:
        _event("cancelled", tenant_id=agendamento.tenant_id, agendamento_id=agendamento.pk)
    logger.info("agendamento cancelado", extra={"agendamento": agendamento.pk})
    return agendamento


def agendamento_reschedule_local(
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
        novo = _insert(
            tenant_id=atual.tenant_id,
            cliente_id=atual.cliente_id,
            servico_id=atual.servico_id,
            inicio=novo_inicio,
            fim=novo_fim,
            status=status_anterior,
            confirmado_em=atual.confirmado_em,  # a confirmed booking stays confirmed
            origem=atual.origem,
            observacoes=atual.observacoes,
            cal_booking_uid=novo_uid,
        )
        atual.reagendado_para = novo
        atual.save(update_fields=["reagendado_para", "atualizado_em"])
        _event(
            "rescheduled", tenant_id=atual.tenant_id, agendamento_id=novo.pk, previous_id=atual.pk
        )
    logger.info(
        "agendamento reagendado",
        extra={"agendamento": atual.pk, "novo": novo.pk, "novo_inicio": novo_inicio.isoformat()},
    )
    return novo


def agendamento_reschedule(*, agendamento: Agendamento, novo_inicio: datetime) -> Agendamento:
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
    config = configuracao_get_active(tenant)
    novo_fim = novo_inicio + timedelta(minutes=agendamento.servico.duracao_minutos)
    horario_validate(
        tenant=tenant,
        config=config,
        inicio=novo_inicio,
        fim=novo_fim,
        exigir_antecedencia=agendamento.origem == Agendamento.Origem.CHAT,
    )
    if horario_is_taken(
        tenant_id=tenant.pk, inicio=novo_inicio, fim=novo_fim, exceto=agendamento.pk
    ):
        raise SlotTaken()
    novo_uid = ""
    if agendamento.cal_booking_uid and config.fonte == ConfiguracaoAgenda.Fonte.CALCOM:
        reserva = calcom.reserva_reschedule(
            api_key=config.cal_api_key, uid=agendamento.cal_booking_uid, novo_inicio=novo_inicio
        )
        novo_uid = reserva.uid
        if reserva.inicio and reserva.fim and reserva.fim > reserva.inicio:
            novo_inicio, novo_fim = reserva.inicio, reserva.fim
    try:
        return agendamento_reschedule_local(
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


def agendamento_mark_attendance(*, agendamento: Agendamento, compareceu: bool) -> Agendamento:
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
    antes = agendamento.status
    agendamento.compareceu = compareceu
    agendamento.status = (
        Agendamento.Status.CONCLUIDO if compareceu else Agendamento.Status.NAO_COMPARECEU
    )
    agendamento.save(update_fields=["compareceu", "status", "atualizado_em"])
    if not compareceu and antes != Agendamento.Status.NAO_COMPARECEU:
        _event("no_show", tenant_id=agendamento.tenant_id, agendamento_id=agendamento.pk)
    return agendamento


def agendamento_mark_no_show(*, agendamento_id: int, tenant_id: int | None = None) -> bool:
    """The no-show job's claim: an active appointment becomes `nao_compareceu`. True only for
    the one caller that changed it, so the "want to rebook?" message goes out once."""
    marked = bool(
        Agendamento.objects.filter(pk=agendamento_id, status__in=Agendamento.ATIVOS).update(
            status=Agendamento.Status.NAO_COMPARECEU,
            compareceu=False,
            atualizado_em=timezone.now(),
        )
    )
    if marked and _event_hooks:
        if tenant_id is None:
            tenant_id = Agendamento.objects.values_list("tenant_id", flat=True).get(
                pk=agendamento_id
            )
        _event("no_show", tenant_id=tenant_id, agendamento_id=agendamento_id)
    return marked


def lembrete_claim(*, agendamento_id: int, tipo: str, agora: datetime) -> bool:
    """Claim the `tipo` ("24h"/"1h") reminder of one appointment with a conditional UPDATE:
    True for exactly one caller, however many beat ticks or workers race for it."""
    campo = REMINDERS[tipo][0]
    return bool(
        Agendamento.objects.filter(
            pk=agendamento_id, status__in=Agendamento.ATIVOS, **{f"{campo}__isnull": True}
        ).update(**{campo: agora})
    )


def lembrete_release(*, agendamento_id: int, tipo: str) -> None:
    """Undo a claim whose message could not be queued, so a later tick tries again."""
    campo = REMINDERS[tipo][0]
    Agendamento.objects.filter(pk=agendamento_id).update(**{campo: None})


def confirmacao_extra_claim(*, agendamento_id: int, agora: datetime) -> bool:
    """Claim the extra confirmation request of a high-risk appointment (agenda.noshow):
    True for exactly one caller, and only while the appointment is still unconfirmed."""
    return bool(
        Agendamento.objects.filter(
            pk=agendamento_id,
            status=Agendamento.Status.PENDENTE,
            confirmacao_extra_enviada_em__isnull=True,
        ).update(confirmacao_extra_enviada_em=agora)
    )


def followup_claim(*, agendamento_id: int, agora: datetime) -> bool:
    """Claim the satisfaction question of one attended appointment (once per appointment)."""
    return bool(
        Agendamento.objects.filter(
            pk=agendamento_id,
            status=Agendamento.Status.CONCLUIDO,
            followup_enviado_em__isnull=True,
        ).update(followup_enviado_em=agora)
    )


def feedback_record(*, agendamento: Agendamento, nota: int, comentario: str = "") -> FeedbackEvent:
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


def feedback_comment(*, agendamento: Agendamento, comentario: str) -> FeedbackEvent | None:
    """Attach the free-text comment sent after the score; None if there is no score yet."""
    feedback = FeedbackEvent.objects.filter(agendamento=agendamento).first()
    if feedback is None or not comentario.strip():
        return feedback
    texto = comentario.strip()
    feedback.comentario = f"{feedback.comentario}\n{texto}".strip()[:2000]
    feedback.save(update_fields=["comentario"])
    return feedback


# --- audit ------------------------------------------------------------------------------


def agendamento_audit(
    *,
    tenant: Tenant,
    action: str,
    changes: dict[str, list],
    agendamento: Agendamento | None = None,
    cliente: Cliente | None = None,
    cal_booking_uid: str = "",
) -> None:
    """Record an agenda change that the admin's and the API's own audit do not see.

    Two writers have them: the customer in the chat (`cliente` changed `agendamento`) and
    Cal.com, through its webhook (no `cliente`; the entry names the booking uid, since a
    delivery need not match one appointment). Called after the change is made: a failure to
    audit is logged, never turned into a failed change (compliance.audit.record_quietly).
    """
    if cliente is not None:
        actor = audit.customer_actor(cliente)
    else:
        actor = audit.system_actor("calcom-webhook")
    audit.record_quietly(
        tenant=tenant,
        actor=actor,
        action=action,
        obj=agendamento,
        object_type="agenda.agendamento",
        object_id=cal_booking_uid,
        changes=changes,
    )
