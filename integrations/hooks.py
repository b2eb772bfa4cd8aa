"""The apps' hooks, turned into events (registered by integrations.apps at start-up).

Each hook runs inside the change's transaction and only calls `services.event_emit`, which
waits for the commit: a turn of the bot, a send or a status webhook costs no query here.
The event's data is read after the commit, and only when the tenant subscribed to it.
What each event's `data` holds is documented in the README ("Webhooks de eventos").
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Prefetch

from agenda.models import Agendamento
from chatbots.models import Conversation, Message
from clientes.models import Cliente
from compliance.models import ConsentEvent
from inbox.models import Ticket
from integrations.catalog import MESSAGE_STATUSES, EventType
from integrations.services import event_emit
from pedidos.models import ItemPedido, Pedido


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _contact(cliente_id: int | None) -> dict | None:
    if cliente_id is None:
        return None
    row = Cliente.objects.filter(pk=cliente_id).values("pk", "nome", "telefone").first()
    if row is None:
        return None
    return {"id": row["pk"], "name": row["nome"], "phone": row["telefone"]}


# --- Messages (chatbots.outbox.watch) --------------------------------------------------


def messages_stored(conversation: Conversation, rows: Sequence[Message]) -> None:
    """message.received, once per inbound message (an event processed again is the same)."""
    for row in rows:
        if row.direction != Message.Direction.IN:
            continue
        ref = row.provider_message_id or str(row.pk)
        event_emit(
            tenant_id=conversation.tenant_id,
            event_type=EventType.MESSAGE_RECEIVED,
            key=f"{conversation.pk}:{ref}",
            build=lambda row=row: _received_data(conversation, row),
        )


def _received_data(conversation: Conversation, row: Message) -> dict:
    message_id = row.pk
    if message_id is None:  # bulk_create(ignore_conflicts) leaves ids unset
        message_id = (
            Message.objects.filter(
                conversation_id=conversation.pk, provider_message_id=row.provider_message_id
            )
            .values_list("pk", flat=True)
            .first()
        )
    return {
        "message": {
            "id": message_id,
            "external_id": row.provider_message_id,
            "type": row.type,
            "text": row.text,
            "intent": row.intent,
        },
        "conversation": {"id": conversation.pk, "chatbot": conversation.chatbot_id},
        "contact": _contact(conversation.cliente_id),
    }


def status_changed(
    *,
    tenant_id: int,
    status: str,
    error: str = "",
    external_id: str = "",
    message_id: int | None = None,
    conversation: Conversation | None = None,
) -> None:
    """message.status for delivered, read and failed (with the provider's error code)."""
    if status not in MESSAGE_STATUSES:
        return
    ref = f"id{message_id}" if message_id else external_id
    event_emit(
        tenant_id=tenant_id,
        event_type=EventType.MESSAGE_STATUS,
        key=f"{ref}:{status}",
        build=lambda: _status_data(tenant_id, status, error, external_id, message_id),
    )


def _status_data(tenant_id, status, error, external_id, message_id) -> dict | None:
    which = {"pk": message_id} if message_id else {"provider_message_id": external_id}
    row = (
        Message.objects.filter(tenant_id=tenant_id, direction=Message.Direction.OUT, **which)
        .values(
            "pk",
            "provider_message_id",
            "conversation_id",
            "conversation__cliente_id",
            "error_code",
            "error_detail",
        )
        .first()
    )
    if row is None:
        return None
    data = {
        "message": {"id": row["pk"], "external_id": row["provider_message_id"]},
        "status": status,
        "conversation": {"id": row["conversation_id"]},
        "contact": _contact(row["conversation__cliente_id"]),
    }
    if status == "failed":
        data["error"] = {
            "code": row["error_code"] or error,
            "detail": row["error_detail"] if row["error_code"] else "",
        }
    return data


# --- Handoffs (inbox.events) -------------------------------------------------------------


def ticket_lifecycle(*, kind: str, ticket: Ticket) -> None:
    event_type = (
        EventType.CONVERSATION_HANDOFF if kind == "opened" else EventType.CONVERSATION_CLOSED
    )
    event_emit(
        tenant_id=ticket.tenant_id,
        event_type=event_type,
        key=str(ticket.pk),
        build=lambda: _ticket_data(ticket.pk),
    )


def _ticket_data(ticket_id: int) -> dict | None:
    ticket = (
        Ticket.objects.filter(pk=ticket_id)
        .select_related("queue", "conversation", "assigned_to", "closed_by")
        .first()
    )
    if ticket is None:
        return None
    return {
        "conversation": {"id": ticket.conversation_id, "chatbot": ticket.conversation.chatbot_id},
        "ticket": {
            "id": ticket.pk,
            "queue": ticket.queue.slug,
            "status": ticket.status,
            "outcome": ticket.outcome,
            "opened_at": _iso(ticket.opened_at),
            "closed_at": _iso(ticket.closed_at),
            "assigned_to": ticket.assigned_to.get_username() if ticket.assigned_to else None,
            "closed_by": ticket.closed_by.get_username() if ticket.closed_by else None,
        },
        "contact": _contact(ticket.conversation.cliente_id),
    }


# --- Orders (pedidos.services) -----------------------------------------------------------


def pedido_event(*, kind: str, pedido: Pedido, previous: str = "") -> None:
    event_type = EventType.ORDER_CREATED if kind == "created" else EventType.ORDER_STATUS
    key = str(pedido.pk) if kind == "created" else f"{pedido.pk}:{previous}:{pedido.status}"
    event_emit(
        tenant_id=pedido.tenant_id,
        event_type=event_type,
        key=key,
        build=lambda: _pedido_data(pedido.pk, previous),
    )


def _pedido_data(pedido_id: int, previous: str) -> dict | None:
    pedido = (
        Pedido.objects.filter(pk=pedido_id)
        .prefetch_related(
            Prefetch("itens", queryset=ItemPedido.objects.select_related("produto").order_by("pk"))
        )
        .first()
    )
    if pedido is None:
        return None
    data = {
        "order": {
            "id": pedido.pk,
            "number": pedido.numero,
            "status": pedido.status,
            "total": str(pedido.total),
            "delivery_mode": pedido.modo_entrega,
            "payment_method": pedido.forma_pagamento,
            "confirmed_at": _iso(pedido.confirmado_em),
            "items": [
                {
                    "product": item.produto_id,
                    "name": item.produto.nome,
                    "quantity": item.quantidade,
                    "unit_price": str(item.preco_unitario),
                }
                for item in pedido.itens.all()
            ],
        },
        "contact": _contact(pedido.cliente_id),
    }
    if previous:
        data["previous_status"] = previous
    return data


# --- Appointments (agenda.services) ------------------------------------------------------

_APPOINTMENT_EVENTS = {
    "created": EventType.APPOINTMENT_CREATED,
    "rescheduled": EventType.APPOINTMENT_RESCHEDULED,
    "cancelled": EventType.APPOINTMENT_CANCELLED,
    "no_show": EventType.APPOINTMENT_NO_SHOW,
}


def agendamento_event(
    *, kind: str, tenant_id: int, agendamento_id: int, previous_id: int | None = None
) -> None:
    event_emit(
        tenant_id=tenant_id,
        event_type=_APPOINTMENT_EVENTS[kind],
        key=str(agendamento_id),
        build=lambda: _agendamento_data(agendamento_id, previous_id),
    )


def _appointment(agendamento: Agendamento) -> dict:
    return {
        "id": agendamento.pk,
        "service": agendamento.servico.nome,
        "start": _iso(agendamento.inicio),
        "end": _iso(agendamento.fim),
        "status": agendamento.status,
        "origin": agendamento.origem,
    }


def _agendamento_data(agendamento_id: int, previous_id: int | None) -> dict | None:
    ids = [agendamento_id, *([previous_id] if previous_id else [])]
    rows = {a.pk: a for a in Agendamento.objects.filter(pk__in=ids).select_related("servico")}
    agendamento = rows.get(agendamento_id)
    if agendamento is None:
        return None
    data = {"appointment": _appointment(agendamento), "contact": _contact(agendamento.cliente_id)}
    if previous_id and previous_id in rows:
        data["previous"] = _appointment(rows[previous_id])
    return data


# --- Consent (compliance.consent) --------------------------------------------------------


def consent_changed(*, event: ConsentEvent, cliente: Cliente) -> None:
    event_type = EventType.CONSENT_OPTED_OUT if event.opted_out else EventType.CONSENT_OPTED_IN
    data = {
        "contact": {"id": cliente.pk, "name": cliente.nome, "phone": cliente.telefone},
        "source": event.source,
        "occurred_at": _iso(event.occurred_at),
    }
    event_emit(
        tenant_id=cliente.tenant_id, event_type=event_type, key=str(event.pk), build=lambda: data
    )
