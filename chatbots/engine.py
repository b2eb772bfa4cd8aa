"""The flow engine: turns one stored inbound message into the bot's replies, exactly once.

Production drains the stored messages in batches with chatbots.processor, which takes the
per-contact locks for a whole batch and calls `turn_take` for each turn. `process_event`
(one event, its contact's lock, its own transaction) and `drain_contact` (the simulator)
are the one-at-a-time entry points, with the same ordering rules below.

Ordering: one message at a time per contact, in the customer's order (provider timestamp,
then arrival), even with many workers. A transaction-scoped lock on (bot, contact) —
a PostgreSQL advisory lock; SQLite's IMMEDIATE transactions serialize writers already —
is taken, then the contact's oldest pending message is processed, and so on until none
is left. Whichever worker holds the lock drains the queue; the others find nothing.

Bursts: texts a customer sends within a short window are answered as one turn
(chatbots.bursts has the rules). A burst that may still grow is left pending and its task
queued again for when the window ends; nothing is written meanwhile.

Exactly once: the events' state change (pending -> done), the customer's Messages, the
step change, the state and the queued replies are committed in ONE transaction. A crash
rolls all of it back and leaves the events pending for the next task or the sweeper.
"""

from __future__ import annotations

import copy
import logging
from contextlib import nullcontext
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from prometheus_client import Counter

from billing import metering
from chatbots import account_events, bursts, deferred, echoes, inbound, numbered, selectors
from chatbots.ai import intent
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.registry import HandlerNotFound, load_handler
from chatbots.interceptors import understanding
from chatbots.interceptors.registry import run_traced as run_interceptors
from chatbots.models import Chatbot, Conversation, InboundEvent, Message, Step
from chatbots.outbox import queue, watch
from chatbots.wire import InboundMessage, InboundPreference, MessageLimitError, Outbound, Text
from clientes.services import cliente_upsert_from_whatsapp
from compliance import consent
from experiments import services as experiments
from inbox import notices
from inbox import services as inbox_services

logger = logging.getLogger(__name__)

MESSAGES_PROCESSED = Counter(
    "chatbot_messages_processed_total", "Inbound customer messages processed", ["outcome"]
)

# Steps that say something and move on can chain; a loop in a flow must not spin forever.
MAX_STEP_HOPS = 10
# Message types that are recorded but never drive a flow.
PASSIVE_TYPES = bursts.PASSIVE_TYPES
SIMULATOR = "simulator"  # provider name of messages typed into `manage.py simulate`
UNDERSTANDING = "chatbots.interceptors.understanding"  # Flow.answered_by: its after_step answered
DEFAULT_APOLOGY = "Desculpe, tive um problema aqui. Pode tentar de novo em instantes?"


class FlowError(Exception):
    """A flow is misconfigured (missing step, handler that does not load)."""


class HandlerFailed(Exception):
    """A turn's handler raised (turn_take with isolated=False); the message is its error."""


@dataclass
class Turn:
    """What one processed message (or burst) produced (for the simulator and tests)."""

    conversation: Conversation
    replies: list[Message] = field(default_factory=list)
    more: bool = False  # the contact had more pending messages than this turn took
    # Who answered (Flow.answered_by): the simulator's side panel shows it.
    answered_by: str = ""


@dataclass(frozen=True)
class Wait:
    """The contact's oldest messages are a burst that may still grow: answer in `seconds`."""

    seconds: float


# --- Entry points ------------------------------------------------------------------------


def process_event(event_id: int) -> None:
    """Process one inbound event, in its own transaction (tools and tests; production
    drains in batches: chatbots.processor).

    For a message, the worker processes the contact's OLDEST pending message (or burst),
    which may be another one than `event_id`: every stored message has its own task, and
    each task answers one turn or, while the oldest burst may still grow, queues itself
    again for when it can be answered. A task whose own message is already done (a burst
    answered it, a duplicate delivery) still looks: it may be the one carrying a later
    message's turn. So no pending message is ever left without a task.
    """
    head = (
        InboundEvent.objects.filter(pk=event_id)
        .values("kind", "chatbot_id", "contact_key", "state")
        .first()
    )
    if head is None:
        return
    if head["kind"] != InboundEvent.Kind.MESSAGE:
        event = inbound.claim(event_id) if head["state"] == InboundEvent.State.PENDING else None
        if event is not None:
            event_apply(event)
        return
    key = {"chatbot_id": head["chatbot_id"], "contact_key": head["contact_key"]}
    outcome = _process_next(**key)
    # A burst closed by a tap or a command answers both now, not the tap a window later.
    while isinstance(outcome, Turn) and outcome.more:
        outcome = _process_next(**key)
    if isinstance(outcome, Wait):
        inbound.enqueue_later(event_id=event_id, delay=outcome.seconds)


def event_apply(event: InboundEvent) -> None:
    """Apply an event that is not a customer's message, and finish it."""
    if event.kind == InboundEvent.Kind.STATUS:
        inbound.apply_status(event)
    elif event.kind == InboundEvent.Kind.ACCOUNT:  # templates, number, account (Meta)
        account_events.account_event_apply(event)
    elif event.kind == InboundEvent.Kind.PREFERENCE:  # a marketing opt-out/opt-in (Meta)
        _apply_preference(event)
    else:
        inbound.finish(event, InboundEvent.State.IGNORED, f"unknown kind {event.kind!r}")


def _apply_preference(event: InboundEvent) -> None:
    """Meta's marketing preference to the consent ledger, then the event's end."""
    pref = InboundPreference.from_dict(event.payload)
    outcome = consent.preference_apply(
        tenant=event.chatbot.tenant,
        wa_id=pref.from_phone,
        user_id=pref.from_user_id,
        nome=pref.profile_name,
        category=pref.category,
        value=pref.value,
        detail=pref.detail,
        occurred_at=pref.timestamp,
    )
    state = InboundEvent.State.DONE if outcome.tracked else InboundEvent.State.IGNORED
    inbound.finish(event, state, outcome.note)


def drain_contact(*, chatbot_id: int, contact_key: str) -> list[Turn]:
    """Process every pending message of one contact now, oldest first, one transaction
    each, without waiting for bursts (the simulator: one typed message at a time)."""
    turns = []
    while True:
        turn = _process_next(chatbot_id=chatbot_id, contact_key=contact_key, debounce=False)
        if not isinstance(turn, Turn):
            return turns
        turns.append(turn)


# --- One message -------------------------------------------------------------------------


def _process_next(
    *, chatbot_id: int, contact_key: str, debounce: bool = True
) -> Turn | Wait | None:
    with transaction.atomic():
        inbound.lock_contact(chatbot_id=chatbot_id, contact_key=contact_key)
        pending = list(
            # The plan comes along for the quota interceptor (billing.quotas), and the consent
            # settings for the opt-out keywords interceptor (chatbots.interceptors.consent),
            # in this query. A burst's messages come in the same query.
            InboundEvent.objects.select_related(
                "chatbot__tenant__subscription__plan", "chatbot__tenant__consent_settings"
            )
            .defer("raw")
            .filter(
                chatbot_id=chatbot_id,
                contact_key=contact_key,
                kind=InboundEvent.Kind.MESSAGE,
                state=InboundEvent.State.PENDING,
            )
            .order_by("occurred_at", "id")[: bursts.MAX_PARTS + 1]
        )
        if not pending:
            return None
        chatbot = pending[0].chatbot
        window = bursts.debounce_window(chatbot) if debounce else bursts.NO_WINDOW
        burst = bursts.burst_take(pending, window=window, now=timezone.now())
        if burst.wait > 0:
            return Wait(seconds=burst.wait)
        turn, error = turn_take(chatbot, burst)
        events_finish([e.pk for e in burst.events], error)
        turn.more = len(pending) > len(burst.events)
        return turn


def turn_take(
    chatbot: Chatbot,
    burst: bursts.Burst,
    *,
    conversation: Conversation | None = None,
    isolated: bool = True,
    failed: str | None = None,
) -> tuple[Turn, str]:
    """Answer one burst (one message, or several) of a contact whose lock the caller holds,
    inside the caller's transaction; return the turn and the handler's error ("" if none).

    `conversation`, when the caller loaded it already (chatbots.processor loads a batch's
    conversations in one query), is the contact's with its `cliente`. The caller marks the
    events (events_finish). With `isolated=False` the caller holds a savepoint around the
    turn: a failing handler raises HandlerFailed, the caller rolls the turn back and calls
    again with `failed=` its error, which answers with the apology without the handler.
    """
    newest = burst.messages[-1]
    turn, error = _run_turn(
        chatbot, burst.messages, conversation=conversation, isolated=isolated, failed=failed
    )
    if newest.type != echoes.ECHO_TYPE and newest.provider != SIMULATOR:
        # After the replies were queued: the receipt then rides with their send task.
        # Marking the newest message read marks the earlier ones too (Meta:
        # https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read).
        queue.queue_mark_read(
            chatbot=chatbot,
            external_id=newest.external_id,
            conversation=turn.conversation,
        )
    MESSAGES_PROCESSED.labels(outcome="error" if error else "ok").inc(len(burst.events))
    return turn, error


def events_finish(event_ids: list[int], error: str = "") -> None:
    """Pending message events answered by a turn: done, or failed with the handler's error."""
    InboundEvent.objects.filter(pk__in=event_ids, state=InboundEvent.State.PENDING).update(
        state=InboundEvent.State.FAILED if error else InboundEvent.State.DONE,
        attempts=F("attempts") + 1,
        processed_at=timezone.now(),
        last_error=error[:2000],
    )


def _run_turn(
    chatbot: Chatbot,
    parts: list[InboundMessage],
    *,
    conversation: Conversation | None = None,
    isolated: bool = True,
    failed: str | None = None,
) -> tuple[Turn, str]:
    """One turn for the customer's `parts` (one message, or a burst of them, oldest first)."""
    message = bursts.turn_message(parts)
    if message.type == echoes.ECHO_TYPE:  # sent by the business itself: never a turn
        conversation = echoes.echo_process(chatbot=chatbot, message=message)
        if conversation.status == Conversation.Status.HUMAN:
            # A person answered from the phone: the attendants see it in their inbox.
            inbox_services.ticket_open_answered(conversation)
        return Turn(conversation=conversation), ""
    if conversation is not None:
        cliente = conversation.cliente
    else:
        newest = parts[-1]
        cliente = cliente_upsert_from_whatsapp(
            tenant=chatbot.tenant,
            wa_id=newest.from_phone,
            user_id=newest.from_user_id,
            nome=newest.profile_name,
        )
        conversation, _created = Conversation.objects.get_or_create(
            chatbot=chatbot, cliente=cliente, defaults={"tenant_id": chatbot.tenant_id}
        )
    conversation.chatbot = chatbot
    conversation.cliente = cliente
    loaded = _columns(conversation)
    _record_inbound(conversation, parts)
    metering.record(tenant_id=conversation.tenant_id, messages_in=len(parts))
    turn = Turn(conversation=conversation)
    if message.type in PASSIVE_TYPES or not chatbot.active:
        conversation.save(update_fields=["last_customer_message_at", "status", "updated_at"])
        return turn, ""

    if conversation.status == Conversation.Status.CLOSED:
        # A closed conversation starts over when the customer writes again.
        conversation.status = Conversation.Status.BOT
        conversation.current_step = ""
        conversation.state = {}

    # "2" answering buttons or a list sent as numbered text becomes that option's tap.
    message = numbered.numbered_reply(conversation=conversation, message=message)
    alone = bursts.newest_text(parts)
    if alone is not None:
        alone = numbered.numbered_reply(conversation=conversation, message=alone)
    steps = selectors.active_steps(chatbot_id=chatbot.pk)
    flow = Flow(
        chatbot=chatbot,
        conversation=conversation,
        cliente=cliente,
        steps=steps,
        alone=alone,
        simulated=message.provider == SIMULATOR,
    )
    if failed is not None:  # the caller rolled back this turn's failed try: apologize
        return _apologize(chatbot, conversation, turn, failed)
    try:
        # A savepoint: a failing handler leaves nothing half-saved. The processor holds one
        # around the whole turn instead (isolated=False) and asks again with `failed`.
        with transaction.atomic() if isolated else nullcontext():
            messages = flow.run(message)
            turn.answered_by = flow.answered_by
            turn.replies = queue.queue_replies(conversation=conversation, messages=messages)
            _save_changed(conversation, loaded)
        return turn, ""
    except Exception as exc:  # the customer gets an apology; operators get the traceback
        error = f"{type(exc).__name__}: {exc}"
        logger.exception(
            "handler failed",
            extra={"conversation_id": conversation.pk, "step": conversation.current_step},
        )
        if not isolated:
            raise HandlerFailed(error) from exc
        return _apologize(chatbot, conversation, turn, error)


def _apologize(chatbot: Chatbot, conversation: Conversation, turn: Turn, error: str):
    window_opened_at = conversation.last_customer_message_at
    conversation.refresh_from_db()  # drop whatever the failed step changed in memory
    conversation.last_customer_message_at = window_opened_at
    apology = chatbot.options.get("apology_text") or _(DEFAULT_APOLOGY)
    turn.replies = queue.queue_replies(conversation=conversation, messages=[Text(body=apology)])
    conversation.save(update_fields=["last_customer_message_at", "updated_at"])
    return turn, error


def _columns(conversation: Conversation) -> dict:
    # The state is JSON a handler changes in place: compare against a copy of it.
    values = {
        f.attname: getattr(conversation, f.attname) for f in Conversation._meta.concrete_fields
    }
    values["state"] = copy.deepcopy(values["state"])
    return values


def _save_changed(conversation: Conversation, loaded: dict) -> None:
    """UPDATE only the columns the turn changed (and updated_at): most turns move the step
    and the state, and the full row was a third of the statement's bytes."""
    changed = [name for name, value in _columns(conversation).items() if loaded.get(name) != value]
    if deferred.conversation_changed(conversation, changed):
        return  # in the processor's batch UPDATE
    conversation.save(update_fields=[*dict.fromkeys([*changed, "updated_at"])])


def _record_inbound(conversation: Conversation, parts: list[InboundMessage]) -> None:
    """One inbound Message per part, in one statement."""
    rows = []
    for message in parts:
        guess = intent.classify_inbound(message)
        rows.append(
            Message(
                tenant_id=conversation.tenant_id,
                conversation=conversation,
                provider_message_id=message.external_id,
                direction=Message.Direction.IN,
                type=message.type,
                text=message.text,
                payload=message.to_dict(),
                status=Message.Status.RECEIVED,
                # Cheap local rules only; the assistant refines free text it answers.
                intent=guess.intent,
                polarity=guess.polarity,
            )
        )
    # ignore_conflicts: an event processed again (admin "process again") keeps one row. In
    # the processor's batch, one INSERT for the whole batch does the same (chatbots.deferred).
    if not deferred.messages_add(rows):
        Message.objects.bulk_create(rows, ignore_conflicts=True)
    latest = max(m.timestamp for m in parts)
    last = conversation.last_customer_message_at
    if last is None or latest > last:
        conversation.last_customer_message_at = latest
    watch.messages_stored(conversation, rows)


# --- The flow ----------------------------------------------------------------------------


@dataclass
class Flow:
    chatbot: Chatbot
    conversation: Conversation
    cliente: object
    steps: selectors.StepSet
    # A burst's newest text alone, for a step that does not understand the joined text.
    alone: InboundMessage | None = None
    # The owner's simulator (chatbots.simulator): an A/B test shows a variant but counts no
    # showing, so trying the bot does not skew the test's results.
    simulated: bool = False
    # The dotted path of the interceptor or handler whose reply `run` gave, or
    # UNDERSTANDING when the step did not understand and chatbots.interceptors.understanding
    # answered instead (the assistant, the business's facts).
    answered_by: str = ""

    def first_step(self) -> Step:
        if not self.steps:
            raise FlowError(f"chatbot {self.chatbot.pk} has no active steps")
        return self.steps[self.steps.first_code()]

    def context(self, step: Step | None, message: InboundMessage | None) -> Context:
        return Context(
            chatbot=self.chatbot,
            step=step,
            conversation=self.conversation,
            cliente=self.cliente,
            message=message,
            state=dict(self.conversation.state),
        )

    def run(self, message: InboundMessage) -> list[Outbound]:
        """Return the replies to `message`, updating the conversation in memory."""
        out: list[Outbound] = []
        current = self.steps.get(self.conversation.current_step)
        reply, self.answered_by = run_interceptors(self.context(current, message))
        if reply is not None and reply.restart:
            self._apply(reply, out)
            self._goto(self.first_step(), out)
        elif reply is not None:
            self._apply(reply, out)
            # An interceptor may move the conversation too (a "Reagendar" tap on a reminder
            # enters the agenda flow's choose-day step, whatever step it was at).
            if reply.next_step and not (reply.end or reply.handoff):
                self._goto(self._step(reply.next_step), out)
        elif current is None:
            # A new conversation (or its step was removed): greet with the first step, and
            # answer the question the customer may have opened with.
            self._goto(self.first_step(), out)
            entered = self.steps.get(self.conversation.current_step)
            self.answered_by = entered.handler_path if entered else ""
            if entered is not None and self.conversation.status == Conversation.Status.BOT:
                opening = understanding.opening_reply(self.context(entered, message))
                if opening is not None:
                    self.answered_by = UNDERSTANDING
                    self._apply(opening, out)
        else:
            ctx = self.context(current, message)
            handler = self._handler(current)
            reply = handler.handle(ctx)
            if reply.not_understood and self.alone is not None:
                # A burst the step did not get as a whole: its last word is the answer.
                alone_ctx = self.context(current, self.alone)
                alone_reply = handler.handle(alone_ctx)
                if not alone_reply.not_understood:
                    ctx, reply = alone_ctx, alone_reply
            # Free text the step did not expect: the assistant, the business's answer, a way out.
            answered = understanding.after_step(ctx, reply)
            self.answered_by = current.handler_path if answered is reply else UNDERSTANDING
            reply = answered
            self._apply(reply, out)
            if reply.next_step and not (reply.end or reply.handoff):
                self._goto(self._step(reply.next_step), out)
        return out

    def _step(self, code: str) -> Step:
        step = self.steps.get(code)
        if step is None:
            raise FlowError(f"step {code!r} does not exist or is inactive")
        return step

    def _handler(self, step: Step):
        try:
            return load_handler(step.handler_path)()
        except HandlerNotFound as exc:
            raise FlowError(f"step {step.code!r}: {exc}") from exc

    def _apply(self, reply: Reply, out: list[Outbound]) -> None:
        conv = self.conversation
        for msg in reply.messages:
            if not isinstance(msg, Outbound):
                raise MessageLimitError(f"handler returned {type(msg).__name__}, not a message")
        out.extend(reply.messages)
        if reply.clear_state:
            conv.state = {}
        if reply.state:
            conv.state = {**conv.state, **reply.state}
        if reply.handoff:
            conv.status = Conversation.Status.WAITING
            # A ticket in the named queue; the customer hears their place in it, or when it
            # opens (inbox.notices).
            ticket = inbox_services.ticket_open(conv, queue=reply.queue or None)
            out.extend(notices.handoff_notices(ticket))
        if reply.end:
            conv.status = Conversation.Status.CLOSED
            conv.current_step = ""
            conv.state = {}

    def _goto(self, step: Step, out: list[Outbound]) -> None:
        """Enter `step`, and the steps its enter() moves on to ("say and go on")."""
        for _hop in range(MAX_STEP_HOPS):
            self.conversation.current_step = step.code
            # An A/B test of the step's text: this customer's variant (experiments.services).
            text = experiments.variant_text(
                step=step,
                conversation=self.conversation,
                cliente=self.cliente,
                counted=not self.simulated,
            )
            if text is not None:
                step.config = {**step.config, "text": text}
            reply = self._handler(step).enter(self.context(step, None))
            self._apply(reply, out)
            if not reply.next_step or reply.next_step == step.code or reply.end or reply.handoff:
                return
            step = self._step(reply.next_step)
        raise FlowError(f"more than {MAX_STEP_HOPS} steps entered in one turn: a loop?")
