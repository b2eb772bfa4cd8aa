"""What one processor batch (chatbots.processor) loads, in a few statements for the whole
batch: the non-message events ready, the locked contacts' pending messages with their bots,
and their conversations with the customer (new customers and their conversations inserted
in one statement each)."""

from __future__ import annotations

from collections import Counter

from django.db import connection

from chatbots import bursts, deferred, echoes
from chatbots.models import Chatbot, Conversation, InboundEvent
from chatbots.wire import InboundMessage
from clientes.models import Cliente
from clientes.phones import normalize_phone
from clientes.services import clientes_created

State = InboundEvent.State
Kind = InboundEvent.Kind
OTHER_KINDS = (Kind.STATUS, Kind.ACCOUNT, Kind.PREFERENCE)


def others_ready(size: int) -> list[int]:
    """Ids of up to `size` pending non-message events, locked (skipping those another
    consumer holds). Most batches find none: a statement of constant text, with no model
    query to compile, keeps that look cheap; the rows are loaded only when there are some."""
    qn = connection.ops.quote_name
    kinds = ", ".join(["%s"] * len(OTHER_KINDS))
    sql = (
        f"SELECT {qn('id')} FROM {qn(InboundEvent._meta.db_table)}"
        f" WHERE {qn('state')} = %s AND {qn('kind')} IN ({kinds}) ORDER BY {qn('id')} LIMIT %s"
    )
    if connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE SKIP LOCKED"
    with connection.cursor() as cursor:
        cursor.execute(sql, [State.PENDING, *OTHER_KINDS, size])
        return [pk for (pk,) in cursor.fetchall()]


def pending_of(
    contacts: list[tuple[int, str]], size: int
) -> tuple[dict[tuple[int, str], list[InboundEvent]], list[tuple[InboundEvent, str]], bool]:
    """The locked contacts' pending messages, oldest first per contact, in one query (the
    plan for the quota interceptor and the consent settings for the opt-out keywords come
    along), the ones whose payload does not parse, with the error, and whether the query's
    limit left some out."""
    if not contacts:
        return {}, [], False
    # Bots IN (…) AND contacts IN (…), the pairs kept below: an OR of one (bot, contact)
    # pair per contact costs Django more to compile than the turns cost to run. A contact
    # of another bot that comes along (rare: one phone writing to two bots of the batch)
    # is not locked by this batch and is left pending.
    wanted, limit = set(contacts), size * (bursts.MAX_PARTS + 1)
    loaded = list(
        InboundEvent.objects.defer("raw")
        .filter(
            chatbot_id__in={bot for bot, _key in contacts},
            contact_key__in={key for _bot, key in contacts},
            state=State.PENDING,
            kind=Kind.MESSAGE,
        )
        .order_by("occurred_at", "id")[:limit]
    )
    rows = [event for event in loaded if (event.chatbot_id, event.contact_key) in wanted]
    # One Chatbot object per bot, loaded once for the batch (not joined into every event's
    # row: five model instances per event), so the bot's options and tenant are shared.
    chatbots = Chatbot.objects.select_related(
        "tenant__subscription__plan", "tenant__consent_settings"
    ).in_bulk({event.chatbot_id for event in rows})
    pending: dict[tuple[int, str], list[InboundEvent]] = {key: [] for key in contacts}
    unreadable: list[tuple[InboundEvent, str]] = []
    for event in rows:
        event.chatbot = chatbots[event.chatbot_id]
        try:
            message = InboundMessage.from_dict(event.payload)
            if not message.contact_key:
                raise ValueError("message without a phone or a WhatsApp user id")
        except Exception as exc:
            unreadable.append((event, f"{type(exc).__name__}: {exc}"))
            continue
        pending[(event.chatbot_id, event.contact_key)].append(event)
    pending = {key: events for key, events in pending.items() if events}
    return pending, unreadable, len(loaded) >= limit


def conversations_of(
    pending: dict[tuple[int, str], list[InboundEvent]],
) -> dict[tuple[int, str], Conversation]:
    """The contacts' conversations (with their customer), in one query, for those whose
    customer is known by phone and needs no change; new customers and their conversations
    are inserted for the whole batch (newcomers). The others are found or created by the
    engine in their turn (cliente_upsert_from_whatsapp, get_or_create)."""
    wanted: dict[tuple[int, str], tuple[int, str]] = {}  # (bot, contact) -> (tenant, phone)
    heads: dict[tuple[int, str], InboundMessage] = {}
    for key, events in pending.items():
        head = InboundMessage.from_dict(events[0].payload)
        if head.type == echoes.ECHO_TYPE or not head.from_phone:
            continue
        phone = normalize_phone(head.from_phone)
        if phone:
            wanted[key] = (events[0].chatbot.tenant_id, phone)
            heads[key] = head
    if not wanted:
        return {}
    pairs = {(bot, phone) for (bot, _key), (_tenant, phone) in wanted.items()}
    rows = Conversation.objects.select_related("cliente").filter(  # as in pending_of
        chatbot_id__in={bot for bot, _phone in pairs},
        cliente__telefone__in={phone for _bot, phone in pairs},
    )
    by_phone = {pair: c for c in rows if (pair := (c.chatbot_id, c.cliente.telefone)) in pairs}
    found = {}
    for key, (tenant_id, phone) in wanted.items():
        conversation = by_phone.get((key[0], phone))
        if conversation is None or conversation.tenant_id != tenant_id:
            continue
        if cliente_changes(conversation.cliente, heads[key]):
            continue  # the engine's upsert writes the change
        found[key] = conversation
    unknown = {k: v for k, v in wanted.items() if (k[0], v[1]) not in by_phone}
    found.update(newcomers(pending, unknown, heads))
    return found


def newcomers(pending, unknown: dict, heads: dict) -> dict[tuple[int, str], Conversation]:
    """Customers never seen by phone, and their conversations: one INSERT … ON CONFLICT DO
    NOTHING each for the batch. A row a constraint refuses (the phone or the WhatsApp user id
    known already, another consumer first) is left to the engine's own upsert."""
    seen = Counter(unknown.values())  # one phone twice (two spellings): the engine's way
    unique = {k: v for k, v in unknown.items() if seen[v] == 1}
    if not unique:
        return {}
    clientes = {}
    for key, (_tenant_id, phone) in unique.items():
        head = heads[key]
        clientes[key] = Cliente(
            tenant=pending[key][0].chatbot.tenant,
            telefone=phone,
            wa_id=head.from_phone,
            whatsapp_user_id=head.from_user_id,
            nome=head.profile_name,
        )
    created = deferred.insert_new(list(clientes.values()), key=("tenant_id", "telefone"))
    clientes_created(created)
    conversations = {
        key: Conversation(
            tenant_id=cliente.tenant_id, chatbot=pending[key][0].chatbot, cliente=cliente
        )
        for key, cliente in clientes.items()
        if cliente.pk is not None
    }
    deferred.insert_new(list(conversations.values()), key=("chatbot_id", "cliente_id"))
    for conversation in conversations.values():
        conversation._newcomer = True
    return {key: c for key, c in conversations.items() if c.pk is not None}


def undo_newcomer(conversation: Conversation | None) -> None:
    """A new customer's first turn failed outside its handler: the customer this batch
    inserted for it goes too (with its conversation), as if the turn had created them."""
    if conversation is not None and getattr(conversation, "_newcomer", False):
        conversation.cliente.delete()


def cliente_changes(cliente, message: InboundMessage) -> bool:
    """Whether cliente_upsert_from_whatsapp would write something for this message."""
    if message.from_phone and cliente.wa_id != message.from_phone:
        return True
    if message.from_user_id and cliente.whatsapp_user_id != message.from_user_id:
        return True
    return bool(message.profile_name and not cliente.nome)
