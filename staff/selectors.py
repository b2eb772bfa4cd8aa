"""Reads the staff pages need beyond inbox.selectors: a conversation's history with who
sent each message, the customer panel, the templates the reply box offers, the team and
its presence, and the counts of the state tabs."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from agenda.selectors import agendamento_next
from billing.models import Membership
from chatbots.models import Conversation, Message, MessageTemplate
from inbox import selectors as inbox_selectors
from inbox.models import AgentPresence
from pedidos.models import Pedido
from pedidos.status import StatusPedido

# Orders the customer is still waiting for (a cart is not an order yet).
OPEN_ORDER_STATUSES = (
    StatusPedido.CONFIRMADO,
    StatusPedido.EM_PREPARO,
    StatusPedido.SAIU_PARA_ENTREGA,
)
TAB_STATES = ("waiting", "mine", "queues", "all", "closed")


@dataclass
class HistoryItem:
    message: Message
    sender: str  # customer | bot | staff | phone
    author: str = ""


def _sender(message: Message) -> str:
    if message.direction == Message.Direction.IN:
        return "customer"
    if (message.payload or {}).get("sent_from") == "phone":  # chatbots.echoes
        return "phone"
    return "staff" if getattr(message, "staff_reply", None) is not None else "bot"


def conversation_history(conversation: Conversation) -> list[HistoryItem]:
    """Every message of the conversation, oldest first, with who sent it (one query)."""
    rows = (
        Message.objects.filter(conversation=conversation)
        .select_related("staff_reply__author", "attachment__file")
        .order_by("created_at", "id")
    )
    items = []
    for m in rows:
        sender = _sender(m)
        author = ""
        if sender == "staff" and m.staff_reply.author is not None:
            author = m.staff_reply.author.get_full_name() or m.staff_reply.author.get_username()
        items.append(HistoryItem(message=m, sender=sender, author=author))
    return items


@dataclass
class CustomerPanel:
    cliente: object
    opted_out: bool
    open_orders: list = field(default_factory=list)
    next_appointment: object = None
    phone: str = ""


def phone_display(digits: str) -> str:
    """A stored phone (digits with the country code, clientes.phones) as people write it:
    +55 11 98765-4321 for Brazil (country 55, a two-digit area code, 8 or 9 digits), else
    + and the digits."""
    if not digits:
        return ""
    if digits.startswith("55") and len(digits) in (12, 13):
        area, local = digits[2:4], digits[4:]
        return f"+55 {area} {local[:-4]}-{local[-4:]}"
    return f"+{digits}"


def customer_panel(conversation: Conversation) -> CustomerPanel | None:
    cliente = conversation.cliente
    if cliente is None:
        return None
    orders = list(
        Pedido.objects.filter(
            tenant_id=conversation.tenant_id, cliente=cliente, status__in=OPEN_ORDER_STATUSES
        ).order_by("-pk")[:5]
    )
    return CustomerPanel(
        cliente=cliente,
        opted_out=cliente.optout_em is not None,
        open_orders=orders,
        next_appointment=agendamento_next(cliente=cliente),
        phone=phone_display(cliente.telefone),
    )


def approved_templates(conversation: Conversation):
    return MessageTemplate.objects.filter(
        chatbot_id=conversation.chatbot_id, approved=True
    ).order_by("name")


def team(membership: Membership) -> list[dict]:
    """The tenant's staff with their presence (for assignment and the chat), by name."""
    members = (
        Membership.objects.filter(tenant_id=membership.tenant_id, user__is_active=True)
        .select_related("user")
        .order_by("user__first_name", "user__username")
    )
    presence = dict(
        AgentPresence.objects.filter(tenant_id=membership.tenant_id).values_list(
            "user_id", "status"
        )
    )
    return [
        {
            "user": m.user,
            "name": m.user.get_full_name() or m.user.get_username(),
            "role": m.get_role_display(),
            "presence": presence.get(m.user_id, AgentPresence.Status.OFFLINE),
            "presence_label": AgentPresence.Status(
                presence.get(m.user_id, AgentPresence.Status.OFFLINE)
            ).label,
            "is_me": m.user_id == membership.user_id,
        }
        for m in members
    ]


def tab_counts(membership: Membership) -> dict[str, int]:
    """Conversations per tab (closed is not counted: it only grows)."""
    counts = {}
    for state in TAB_STATES:
        if state == "closed" or (state == "all" and not inbox_selectors.is_manager(membership)):
            continue
        counts[state] = (
            inbox_selectors.conversations_for(membership, state).order_by().values("pk").count()
        )
    return counts


def waiting_minutes(since) -> int | None:
    if since is None:
        return None
    return max(0, int((timezone.now() - since).total_seconds() // 60))


def with_last_message(conversations):
    """Each conversation's latest message text as `last_text` (one subquery)."""
    latest = Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-id")
    return conversations.annotate(last_text=Subquery(latest.values("text")[:1]))
