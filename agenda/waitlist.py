"""The waiting list: customers who found no free time for a service, and the freed times
offered to them.

When an active appointment is cancelled or moved (agenda.services' event hooks, wired in
agenda.apps), a task offers the freed time to the first OFERTAS_POR_VAGA customers waiting
for that service on that day (or on any day), in the order they joined, each by a message
with a button. Whoever taps it first books the time through agenda.services.
agendamento_create: the no-overlap exclusion constraint lets exactly one booking in, and
the others are told the time was taken and stay on the list.

The offer is a proactive message: it goes inside the customer's 24-hour window (they joined
the list in the chat, usually shortly before); outside it there is no approved template
for it yet, so the outbox records it as not sent.
"""

from __future__ import annotations

import logging
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agenda import services, texts
from agenda.availability import tenant_time_zone
from agenda.errors import AgendaErro, SlotTaken
from agenda.models import Agendamento, ListaEspera, OfertaVaga, Servico
from agenda.selectors import horario_is_taken
from billing.models import Tenant
from chatbots import outbox
from chatbots.outbox import Button, Buttons
from clientes.models import Cliente

logger = logging.getLogger(__name__)

# How many waiting customers one freed time is offered to at once: the first to accept
# books it, so offering a few fills the time sooner than waiting for one answer at a time.
OFERTAS_POR_VAGA = 3


class VagaIndisponivel(AgendaErro):
    default_message = gettext_lazy(
        "Que pena, esse horário já foi preenchido. 😕 Você continua na lista de espera e "
        "avisamos quando abrir outro."
    )


def lista_espera_join(
    *, tenant: Tenant, cliente: Cliente, servico: Servico, data: date | None = None
) -> ListaEspera:
    """Put `cliente` on the waiting list of `servico` for `data` (None: any day). Joining
    twice keeps the first place."""
    if cliente.tenant_id != tenant.pk or servico.tenant_id != tenant.pk:
        raise ValidationError(_("Este registro pertence a outra empresa."))
    campos = {"tenant": tenant, "cliente": cliente, "servico": servico, "data": data}
    existente = ListaEspera.objects.filter(**campos, status=ListaEspera.Status.AGUARDANDO).first()
    if existente is not None:
        return existente
    try:
        with transaction.atomic():
            return ListaEspera.objects.create(**campos)
    except IntegrityError:  # joined at the same moment from another message
        return ListaEspera.objects.get(**campos, status=ListaEspera.Status.AGUARDANDO)


def lista_espera_leave(*, entrada: ListaEspera) -> None:
    ListaEspera.objects.filter(pk=entrada.pk, status=ListaEspera.Status.AGUARDANDO).update(
        status=ListaEspera.Status.SAIU
    )


def waiting_for(*, agendamento: Agendamento) -> list[ListaEspera]:
    """Who waits for the time of `agendamento`: its service, its local day or any day, not
    its own customer, first come first."""
    dia = agendamento.inicio.astimezone(tenant_time_zone(agendamento.tenant)).date()
    return list(
        ListaEspera.objects.filter(
            Q(data__isnull=True) | Q(data=dia),
            tenant_id=agendamento.tenant_id,
            servico_id=agendamento.servico_id,
            status=ListaEspera.Status.AGUARDANDO,
        ).order_by("criado_em", "id")[: OFERTAS_POR_VAGA + 1]
    )


def offer_message(*, oferta: OfertaVaga, servico: Servico, tenant: Tenant) -> Buttons:
    quando = texts.when_label(oferta.inicio, tenant=tenant)
    body = _(
        "Boa notícia! Abriu um horário de *%(servico)s* %(quando)s. Quer ficar com ele? "
        "Quem confirmar primeiro fica com o horário."
    ) % {"servico": servico.nome, "quando": quando}
    return Buttons(
        body=body,
        buttons=[Button(id=texts.vaga_button_id(oferta.pk), title=_("Quero esse horário"))],
    )


def vaga_offer(*, agendamento_id: int) -> int:
    """Offer the time `agendamento` freed to the first ones waiting. Returns how many
    offers were made (0 when the time is past, taken again, or nobody waits)."""
    agendamento = (
        Agendamento.objects.select_related("tenant", "servico").filter(pk=agendamento_id).first()
    )
    if (
        agendamento is None
        or agendamento.ativo
        or agendamento.inicio <= timezone.now()
        or horario_is_taken(
            tenant_id=agendamento.tenant_id, inicio=agendamento.inicio, fim=agendamento.fim
        )
    ):
        return 0
    offered = 0
    for entrada in waiting_for(agendamento=agendamento):
        if entrada.cliente_id == agendamento.cliente_id or offered >= OFERTAS_POR_VAGA:
            continue
        with transaction.atomic():
            oferta, created = OfertaVaga.objects.get_or_create(
                entrada=entrada, inicio=agendamento.inicio, defaults={"tenant": agendamento.tenant}
            )
            if not created:
                continue  # the same time freed twice (moved back and forth): offered once
            cliente = Cliente.objects.get(pk=entrada.cliente_id)
            chatbot = outbox.chatbot_for_customer(cliente=cliente)
            if chatbot is None:
                logger.warning("slot offer not sent: no chatbot", extra={"oferta": oferta.pk})
                continue
            outbox.send_to_customer(
                chatbot=chatbot,
                cliente=cliente,
                message=offer_message(
                    oferta=oferta, servico=agendamento.servico, tenant=agendamento.tenant
                ),
                reason="waitlist_offer",
                proactive=True,  # an offer: the opt-out ledger decides
            )
            offered += 1
    if offered:
        logger.info("slot offered", extra={"agendamento": agendamento.pk, "ofertas": offered})
    return offered


def vaga_accept(*, oferta_id: int, cliente: Cliente) -> Agendamento:
    """`cliente` takes the offered time: booked and confirmed, the entry leaves the list.

    Raises VagaIndisponivel when someone else was first (the customer stays on the list),
    and the agenda's own errors (AgendaIndisponivel) unchanged. Accepting twice answers the
    same appointment.
    """
    oferta = (
        OfertaVaga.objects.select_related("entrada__servico", "tenant", "agendamento")
        .filter(pk=oferta_id, tenant_id=cliente.tenant_id, entrada__cliente=cliente)
        .first()
    )
    if oferta is None:
        raise VagaIndisponivel(_("Não encontrei essa oferta de horário."))
    if oferta.status == OfertaVaga.Status.ACEITA and oferta.agendamento is not None:
        return oferta.agendamento
    if oferta.status != OfertaVaga.Status.ENVIADA or oferta.inicio <= timezone.now():
        raise VagaIndisponivel()
    try:
        agendamento = services.agendamento_create(
            tenant=oferta.tenant,
            cliente=cliente,
            servico=oferta.entrada.servico,
            inicio=oferta.inicio,
            origem=Agendamento.Origem.CHAT,
            observacoes=_("Horário da lista de espera"),
        )
    except (SlotTaken, ValidationError) as exc:
        OfertaVaga.objects.filter(pk=oferta.pk, status=OfertaVaga.Status.ENVIADA).update(
            status=OfertaVaga.Status.PERDIDA
        )
        oferta.refresh_from_db()
        if oferta.status == OfertaVaga.Status.ACEITA and oferta.agendamento is not None:
            return oferta.agendamento  # a double tap: the first one booked it
        raise VagaIndisponivel() from exc
    agendamento = services.agendamento_confirm(agendamento=agendamento)
    with transaction.atomic():
        OfertaVaga.objects.filter(pk=oferta.pk).update(
            status=OfertaVaga.Status.ACEITA, agendamento=agendamento
        )
        ListaEspera.objects.filter(pk=oferta.entrada_id).update(status=ListaEspera.Status.ATENDIDO)
        # The same time offered to others is gone now.
        OfertaVaga.objects.filter(
            tenant_id=oferta.tenant_id, inicio=oferta.inicio, status=OfertaVaga.Status.ENVIADA
        ).exclude(pk=oferta.pk).update(status=OfertaVaga.Status.PERDIDA)
    return agendamento


def agendamento_event(
    *, kind: str, tenant_id: int, agendamento_id: int, previous_id: int | None = None
) -> None:
    """agenda.services' event hook: a cancellation or a move frees a time; the offers go
    from a task once the change is committed."""
    freed = {"cancelled": agendamento_id, "rescheduled": previous_id}.get(kind)
    if freed is None:
        return
    if not ListaEspera.objects.filter(
        tenant_id=tenant_id, status=ListaEspera.Status.AGUARDANDO
    ).exists():
        return  # nobody waits: no task
    from agenda import tasks  # the task calls back into this module (one allowed loop)

    transaction.on_commit(lambda: tasks.bulk_offer_freed_slot.delay(freed))
