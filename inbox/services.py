"""Writes of the attendant inbox: tickets (open, take, assign, close, back to the bot), staff
replies, internal notes and presence. The staff app's views and the REST API call these.

Lifecycle of a Ticket (one handoff episode of a conversation), mirrored on
Conversation.status because the engine reads that field:

    ticket_open      -> waiting   conversation `waiting` (the bot stays quiet)
    ticket_take /
    ticket_assign(user) / staff_reply -> open   conversation `human`
    ticket_assign(queue) / (user=None)  -> waiting in that queue (then auto-assignment)
    ticket_close     -> closed    conversation `closed`: the customer's next message
                                  starts the bot's flow again (chatbots.engine)
    ticket_return_to_bot / the queue's timeout -> closed, conversation `bot` at once

Every take, assignment, transfer, close, return and note is in the audit log
(compliance.audit). Who may act on which conversation is the caller's check
(inbox.selectors.membership_can_see); these functions check only that people belong to the
ticket's tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Membership, Tenant
from billing.tenancy import APIKeyClient
from chatbots.models import Conversation, Message, MessageTemplate, Step
from chatbots.outbox import Media, Template, Text, send_to_customer, window_open
from compliance import audit
from inbox import assignment, events, live
from inbox.models import AgentPresence, Note, Queue, StaffReply, Ticket

logger = logging.getLogger(__name__)

User = get_user_model()
OPEN = Ticket.OPEN_STATUSES
DEFAULT_QUEUE_SLUG = "atendimento"


class InboxError(Exception):
    """An inbox operation that cannot be done; `code` is stable, `detail` is pt-BR."""

    code = "inbox_error"

    def __init__(self, detail: str = "", code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class WindowClosed(InboxError):
    """Meta's 24-hour customer-service window is closed and no template was given."""

    code = "outside_24h_window"


class TemplateRefused(InboxError):
    """The template named is not an approved one of the bot, or its parameters differ."""

    code = "template_refused"


class TicketUnavailable(InboxError):
    """The ticket is closed, or another person has it."""

    code = "ticket_unavailable"


class NotInTenant(InboxError):
    """The person or queue named belongs to another tenant (or does not exist)."""

    code = "not_in_tenant"


# --- Queues ------------------------------------------------------------------------------


def queue_default(tenant_id: int) -> Queue:
    """The tenant's default queue, created ("Atendimento") the first time it is needed."""
    queue = Queue.objects.filter(tenant_id=tenant_id, is_default=True).first()
    if queue is not None:
        return queue
    try:
        with transaction.atomic():
            slug = DEFAULT_QUEUE_SLUG
            if Queue.objects.filter(tenant_id=tenant_id, slug=slug).exists():
                slug = f"{slug}-padrao"
            return Queue.objects.create(
                tenant_id=tenant_id, name=_("Atendimento"), slug=slug, is_default=True
            )
    except IntegrityError:  # created meanwhile by another worker
        return Queue.objects.get(tenant_id=tenant_id, is_default=True)


def queue_resolve(tenant_id: int, queue: Queue | int | str | None) -> Queue:
    """A queue of the tenant from a Queue, its id or its slug; the default one for None or
    an unknown slug (a handoff step naming a queue that was deleted still reaches a person)."""
    if isinstance(queue, Queue):
        if queue.tenant_id != tenant_id:
            raise NotInTenant(_("Essa fila não é desta empresa."))
        return queue
    if isinstance(queue, int):
        found = Queue.objects.filter(tenant_id=tenant_id, pk=queue).first()
        if found is None:
            raise NotInTenant(_("Fila não encontrada nesta empresa."))
        return found
    if queue:
        found = Queue.objects.filter(tenant_id=tenant_id, slug=queue).first()
        if found is not None:
            return found
        logger.warning("handoff names an unknown queue", extra={"queue": queue})
    return queue_default(tenant_id)


def _is_person(by) -> bool:
    return isinstance(by, User) and by.pk is not None


def _member(tenant_id: int, user, *, api_key_ok: bool = False) -> None:
    """`user` is on the tenant's staff (or, where `api_key_ok`, an API key of the tenant,
    which acts as an integration: it may reply and write notes, never be assigned)."""
    if api_key_ok and isinstance(user, APIKeyClient):
        if user.api_key.tenant_id == tenant_id:
            return
    elif (
        _is_person(user)
        and Membership.objects.filter(tenant_id=tenant_id, user=user).exists()
        or getattr(user, "is_superuser", False)
    ):
        return
    raise NotInTenant(_("Essa pessoa não faz parte da equipe desta empresa."))


# --- Tickets -----------------------------------------------------------------------------


def open_ticket_of(conversation: Conversation) -> Ticket | None:
    return (
        Ticket.objects.filter(conversation=conversation, status__in=OPEN)
        .select_related("queue")
        .first()
    )


def _mirror(conversation: Conversation, status: str) -> None:
    """Conversation.status follows the ticket; only that field (and updated_at) is written,
    so a step or state the engine moved meanwhile is kept."""
    conversation.status = status
    Conversation.objects.filter(pk=conversation.pk).update(status=status, updated_at=timezone.now())


# The generic handoff step (chatbots.handlers.generic.HandoffHandler, by its registered path:
# the domain layer does not import handlers). Back with the bot at that step, the customer's
# next message would hand them over again at once.
HANDOFF_PATH = "chatbots.handlers.generic.HandoffHandler"


def conversation_back_to_bot(conversation: Conversation) -> None:
    """The conversation is the bot's again: at its current step, unless that step is the
    handoff itself, in which case the flow starts over (the conversation's data stays)."""
    at_handoff = Step.objects.filter(
        chatbot_id=conversation.chatbot_id,
        code=conversation.current_step,
        handler_path=HANDOFF_PATH,
    ).exists()
    fields = {"status": Conversation.Status.BOT, "updated_at": timezone.now()}
    if at_handoff:
        fields["current_step"] = ""
        conversation.current_step = ""
    conversation.status = Conversation.Status.BOT
    Conversation.objects.filter(pk=conversation.pk).update(**fields)


def _save(ticket: Ticket, *fields: str) -> None:
    ticket.save(update_fields=list(fields))


def ticket_open(conversation: Conversation, queue: Queue | int | str | None = None) -> Ticket:
    """Hand `conversation` to a person: a waiting ticket in `queue` (the default queue when
    None), or the conversation's open ticket if it has one. Auto-assigns when the queue
    does. Runs inside the caller's transaction (the engine's turn)."""
    existing = open_ticket_of(conversation)
    if existing is not None:
        return existing
    target = queue_resolve(conversation.tenant_id, queue)
    ticket = Ticket.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        queue=target,
        last_customer_message_at=conversation.last_customer_message_at,
    )
    _mirror(conversation, Conversation.Status.WAITING)
    audit.record(
        tenant=conversation.tenant_id,
        actor=audit.customer_actor(conversation.cliente) if conversation.cliente_id else None,
        action="inbox.ticket_open",
        obj=ticket,
        changes={"queue": target.slug, "conversation": conversation.pk},
    )
    events.ticket_changed(ticket)
    events.ticket_lifecycle("opened", ticket)
    if target.auto_assign:
        assignment.queue_dispatch(target)
        ticket.refresh_from_db()
        if ticket.status == Ticket.Status.OPEN:
            conversation.status = Conversation.Status.HUMAN
    return ticket


def ticket_open_answered(conversation: Conversation) -> Ticket:
    """Someone at the business answered the customer from the phone (chatbots.echoes): the
    conversation is with a person, so it has an open ticket in the default queue, being
    attended by nobody in the app (like an integration's, ticket_take) until staff take it.
    Runs inside the caller's transaction (the engine's turn)."""
    ticket = ticket_open(conversation)
    if ticket.status == Ticket.Status.WAITING:
        ticket.status = Ticket.Status.OPEN
        _save(ticket, "status")
        events.ticket_changed(ticket)
    if conversation.status != Conversation.Status.HUMAN:  # ticket_open made it waiting
        _mirror(conversation, Conversation.Status.HUMAN)
    return ticket


def _assign_to(ticket: Ticket, user, *, now: datetime | None = None) -> None:
    ticket.assigned_to = user
    ticket.status = Ticket.Status.OPEN
    ticket.assigned_at = now or timezone.now()
    _save(ticket, "assigned_to", "status", "assigned_at")
    _mirror(ticket.conversation, Conversation.Status.HUMAN)


def ticket_take(ticket: Ticket, user) -> Ticket:
    """`user` takes a waiting ticket (or one nobody has). Two people taking the same ticket
    at once: one gets it, the other TicketUnavailable. An API key (an integration answering
    by itself) opens the ticket without an assignee."""
    _member(ticket.tenant_id, user, api_key_ok=True)
    person = _is_person(user)
    with transaction.atomic():
        now = timezone.now()
        claim = Ticket.objects.filter(pk=ticket.pk, status__in=OPEN, assigned_to__isnull=True)
        if person:
            taken = claim.update(assigned_to=user, status=Ticket.Status.OPEN, assigned_at=now)
        else:
            taken = claim.filter(status=Ticket.Status.WAITING).update(status=Ticket.Status.OPEN)
        ticket.refresh_from_db()
        if not taken:
            if ticket.is_open and ticket.assigned_to_id == getattr(user, "pk", None):
                return ticket  # already theirs
            raise TicketUnavailable(
                _("Este atendimento já foi encerrado.")
                if not ticket.is_open
                else _("Outra pessoa já assumiu este atendimento.")
            )
        _mirror(ticket.conversation, Conversation.Status.HUMAN)
        audit.record(
            tenant=ticket.tenant_id,
            actor=user,
            action="inbox.ticket_take",
            obj=ticket,
            changes={"assigned_to": ticket.assigned_to_id, "queue": ticket.queue.slug},
        )
        events.ticket_changed(ticket)
    return ticket


def ticket_assign(
    ticket: Ticket, by, user=None, queue: Queue | int | None = None, note: str = ""
) -> Ticket:
    """Assign or transfer an open ticket: to `user` (a member of the tenant), to `queue`
    (waiting there, unassigned unless `user` is given too), or with neither back to its
    queue's waiting list. `note` becomes an internal note of the conversation."""
    if not ticket.is_open:
        raise TicketUnavailable(_("Este atendimento já foi encerrado."))
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update()
            .select_related("queue", "conversation")
            .get(pk=ticket.pk)
        )
        if not ticket.is_open:
            raise TicketUnavailable(_("Este atendimento já foi encerrado."))
        before = {"assigned_to": ticket.assigned_to_id, "queue": ticket.queue.slug}
        previous_queue_id = ticket.queue_id
        if queue is not None:
            ticket.queue = queue_resolve(ticket.tenant_id, queue)
            _save(ticket, "queue")
        if user is not None:
            _member(ticket.tenant_id, user)
            _assign_to(ticket, user)
        else:
            ticket.assigned_to, ticket.status, ticket.assigned_at = (
                None,
                Ticket.Status.WAITING,
                None,
            )
            _save(ticket, "assigned_to", "status", "assigned_at")
            _mirror(ticket.conversation, Conversation.Status.WAITING)
        after = {"assigned_to": ticket.assigned_to_id, "queue": ticket.queue.slug}
        action = (
            "inbox.ticket_transfer" if before["queue"] != after["queue"] else "inbox.ticket_assign"
        )
        audit.record(
            tenant=ticket.tenant_id,
            actor=by,
            action=action,
            obj=ticket,
            changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
        )
        if note.strip():
            note_add(ticket.conversation, by, note, ticket=ticket)
        events.ticket_changed(ticket, previous_queue_id=previous_queue_id)
        if ticket.status == Ticket.Status.WAITING and ticket.queue.auto_assign:
            assignment.queue_dispatch(ticket.queue)
            ticket.refresh_from_db()
    return ticket


def _end(ticket: Ticket, by, *, outcome: str, conversation_status: str, action: str) -> Ticket:
    with transaction.atomic():
        now = timezone.now()
        ended = Ticket.objects.filter(pk=ticket.pk, status__in=OPEN).update(
            status=Ticket.Status.CLOSED,
            outcome=outcome,
            closed_at=now,
            closed_by=by if _is_person(by) else None,
        )
        ticket.refresh_from_db()
        if not ended:
            raise TicketUnavailable(_("Este atendimento já foi encerrado."))
        if conversation_status == Conversation.Status.BOT:
            conversation_back_to_bot(ticket.conversation)
        else:
            _mirror(ticket.conversation, conversation_status)
        audit.record(
            tenant=ticket.tenant_id,
            actor=by,
            action=action,
            obj=ticket,
            changes={"queue": ticket.queue.slug, "outcome": outcome},
        )
        events.ticket_changed(ticket)
        events.ticket_lifecycle("ended", ticket)
        assignment.after_close(ticket)
    return ticket


def ticket_close(ticket: Ticket, by) -> Ticket:
    """Close the ticket; the bot answers the customer's next message from the start."""
    return _end(
        ticket,
        by,
        outcome=Ticket.Outcome.CLOSED,
        conversation_status=Conversation.Status.CLOSED,
        action="inbox.ticket_close",
    )


def ticket_return_to_bot(ticket: Ticket, by) -> Ticket:
    """End the ticket and give the conversation back to the bot now: at its current step,
    or from the flow's start when that step is the handoff itself."""
    return _end(
        ticket,
        by,
        outcome=Ticket.Outcome.BOT,
        conversation_status=Conversation.Status.BOT,
        action="inbox.ticket_return_to_bot",
    )


# --- Replies and notes -------------------------------------------------------------------


def _template(conversation: Conversation, name: str, params: Sequence[str]) -> Template:
    """The wire template for `name`, in the language the bot registered it with."""
    language = (
        MessageTemplate.objects.filter(chatbot_id=conversation.chatbot_id, name=name, approved=True)
        .values_list("language", flat=True)
        .first()
    ) or conversation.chatbot.language
    return Template(name=name, language=language, params=[str(p) for p in params])


def _window_detail(conversation: Conversation) -> str:
    last = conversation.last_customer_message_at
    if last is None:
        return _(
            "O cliente nunca escreveu para este número: só um modelo de mensagem aprovado pode "
            "ser enviado."
        )
    return _(
        "A janela de 24 horas do WhatsApp está fechada (última mensagem do cliente em "
        "%(when)s): envie um modelo de mensagem aprovado."
    ) % {"when": timezone.localtime(last).strftime("%d/%m/%Y %H:%M")}


def staff_reply(
    conversation: Conversation,
    by,
    text: str | None = None,
    template: str | None = None,
    params: Sequence[str] = (),
    media: Media | None = None,
) -> Message:
    """Queue a reply written by `by` (text, a template, or a `media` message: a file
    uploaded by media.outbound) (through the outbox: window rule, rate governor,
    retries, statuses) and return its Message. The conversation becomes `human`: its open
    ticket is taken by `by` if nobody had it, or a ticket is opened for `by`.

    Raises WindowClosed when only a template may go and none was given, TemplateRefused
    when the template is not an approved one of the bot (nothing is queued then)."""
    if not (text or "").strip() and not template and media is None:
        raise InboxError(_("Escreva uma mensagem ou escolha um modelo."), code="empty_reply")
    _member(conversation.tenant_id, by, api_key_ok=True)
    conversation = Conversation.objects.select_related("chatbot", "cliente").get(pk=conversation.pk)
    if template:
        message = _template(conversation, template, params)
    else:
        if not window_open(conversation):
            raise WindowClosed(_window_detail(conversation))
        message = media if media is not None else Text(body=text.strip())
    with transaction.atomic():
        ticket = _ticket_for_reply(conversation, by)
        now = timezone.now()
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        ticket.unread = 0
        _save(ticket, "first_response_at", "unread")
        with events.sent_by_staff(by.pk if _is_person(by) else 0):
            row = send_to_customer(
                chatbot=conversation.chatbot,
                cliente=conversation.cliente,
                message=message,
                reason="staff_reply",
            )
        if row.status == Message.Status.FAILED:
            # Rolled back with everything above: a refused reply leaves no trace but the error.
            raise TemplateRefused(row.error_detail, code=row.error_code or None)
        StaffReply.objects.create(
            tenant_id=conversation.tenant_id,
            message=row,
            ticket=ticket,
            author=by if _is_person(by) else None,
        )
    return row


def _ticket_for_reply(conversation: Conversation, by) -> Ticket:
    """The open ticket a reply belongs to, taken by `by` when nobody had it (an API key
    marks it open without an assignee); opened for `by` on a conversation with the bot."""
    ticket = open_ticket_of(conversation)
    if ticket is None:
        ticket = Ticket.objects.create(
            tenant_id=conversation.tenant_id,
            conversation=conversation,
            queue=queue_default(conversation.tenant_id),
            last_customer_message_at=conversation.last_customer_message_at,
        )
        ticket.conversation = conversation
        _claim_for(ticket, by)
    elif ticket.assigned_to_id is None and _is_person(by):
        ticket = ticket_take(ticket, by)
    elif ticket.status != Ticket.Status.OPEN:
        ticket.conversation = conversation
        _claim_for(ticket, by)
    if conversation.status != Conversation.Status.HUMAN:
        _mirror(conversation, Conversation.Status.HUMAN)
    ticket.conversation = conversation
    return ticket


def _claim_for(ticket: Ticket, by) -> None:
    if _is_person(by):
        _assign_to(ticket, by)
    else:
        ticket.status = Ticket.Status.OPEN
        _save(ticket, "status")
        _mirror(ticket.conversation, Conversation.Status.HUMAN)
    audit.record(
        tenant=ticket.tenant_id,
        actor=by,
        action="inbox.ticket_take",
        obj=ticket,
        changes={"assigned_to": ticket.assigned_to_id, "queue": ticket.queue.slug},
    )
    events.ticket_changed(ticket)


def note_add(conversation: Conversation, by, text: str, *, ticket: Ticket | None = None) -> Note:
    """An internal note: staff see it, the customer never does (nothing is queued)."""
    text = (text or "").strip()
    if not text:
        raise InboxError(_("A nota está vazia."), code="empty_note")
    _member(conversation.tenant_id, by, api_key_ok=True)
    with transaction.atomic():
        note = Note.objects.create(
            tenant_id=conversation.tenant_id,
            conversation=conversation,
            ticket=ticket or open_ticket_of(conversation),
            author=by if _is_person(by) else None,
            text=text,
        )
        audit.record(
            tenant=conversation.tenant_id,
            actor=by,
            action="inbox.note_add",
            obj=note,
            changes={"conversation": conversation.pk, "text": text},
        )
        events.note_added(note)
    return note


# --- Presence ----------------------------------------------------------------------------


def presence_set(user, tenant: Tenant | int, status: str) -> AgentPresence:
    """Record whether `user` is online for `tenant`; coming online takes waiting tickets of
    their auto-assigning queues."""
    tenant_id = getattr(tenant, "pk", tenant)
    if status not in AgentPresence.Status.values:
        raise InboxError(_("Situação de presença desconhecida."), code="bad_presence")
    presence, _created = AgentPresence.objects.update_or_create(
        tenant_id=tenant_id, user=user, defaults={"status": status}
    )
    queues = list(Queue.objects.filter(tenant_id=tenant_id, members=user))
    # Colleagues see it: the admins, and the people of the queues they share.
    live.publish(
        tenant_id,
        live.PRESENCE,
        {"user": user.pk, "status": status},
        queue_ids=[q.pk for q in queues],
        user_ids=[user.pk],
    )
    if status == AgentPresence.Status.ONLINE:
        for queue in queues:
            if queue.auto_assign:
                assignment.queue_dispatch(queue)
    return presence


def conversation_status_set(conversation: Conversation, by, status: str) -> Conversation:
    """A status chosen by hand (the admin's field, the API's PATCH), with the ticket kept in
    step: `human` takes the open ticket (or opens one) for `by`; `bot` and `closed` end the
    open ticket as a return to the bot or a close; `waiting` puts it back in its queue."""
    if status not in Conversation.Status.values:
        raise InboxError(_("Situação de conversa desconhecida."), code="bad_status")
    ticket = open_ticket_of(conversation)
    if status == Conversation.Status.HUMAN:
        with transaction.atomic():
            _ticket_for_reply(conversation, by)
    elif status == Conversation.Status.WAITING:
        if ticket is None:
            ticket_open(conversation)
        elif ticket.status == Ticket.Status.OPEN:
            ticket_assign(ticket, by)
    elif ticket is not None:
        end = ticket_close if status == Conversation.Status.CLOSED else ticket_return_to_bot
        end(ticket, by)
    if conversation.status != status:
        _mirror(conversation, status)
    return conversation
