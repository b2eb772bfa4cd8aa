"""Send gates: rules owned by other apps that may stop a message, registered at start-up.

The outbox knows no plan and no consent ledger. The apps that own those rules register a
gate in their AppConfig.ready() (billing: a canceled subscription sends nothing;
compliance: a customer who opted out gets no proactive message), so the outbox imports
neither of them.

A gate is a callable `gate(outgoing: Outgoing) -> Refusal | None`:

* None lets the message go on to the next gate;
* a Refusal `(code, detail)` stops it: `code` goes to Message.error_code (at most 32
  characters) and to the `code` label of chatbot_outbound_failed_total, `detail` is the
  pt-BR sentence the admin shows. The first refusal wins; the gates after it are not asked.

Each gate is asked at one stage:

* QUEUE: by send_to_customer, before the 24-hour window check, for what a domain app sends
  on its own (an order update, a reminder, a campaign); `outgoing.proactive` is what the
  caller said. The refusal is recorded as a `failed` row and nothing is queued.
* SEND: before each provider call, for every outbound row (the bot's replies too), so a
  rule that changed after the row was queued still holds. `outgoing.proactive` is False
  there: a queued row does not record why it was queued.

A gate must not send or write messages, and SEND gates run once per message: cache what
they read. An exception in a gate propagates to the caller, as one of the outbox's own.

After the provider accepted a message, the hooks registered with `register_on_sent` are
called with the same Outgoing (billing counts the message for the plan's usage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from chatbots.models import Chatbot
    from clientes.models import Cliente

QUEUE = "queue"
SEND = "send"
Stage = Literal["queue", "send"]

#: (error code, pt-BR detail): why a message must not go.
Refusal = tuple[str, str]


@dataclass(frozen=True)
class Outgoing:
    """The message a gate or hook is asked about: who sends, to whom, and whether it is the
    business's own initiative (campaigns, reactivation, optional reminders)."""

    tenant_id: int
    chatbot: Chatbot
    cliente: Cliente
    proactive: bool = False


Gate = Callable[[Outgoing], "Refusal | None"]
SentHook = Callable[[Outgoing], None]

_gates: dict[str, list[Gate]] = {QUEUE: [], SEND: []}
_gates_many: dict[Gate, Callable[[list[Outgoing]], list[Refusal | None]]] = {}
_on_sent: list[SentHook] = []
_on_sent_many: dict[SentHook, Callable[[list[Outgoing]], None]] = {}


def register_gate(
    gate: Gate,
    *,
    stage: Stage,
    many: Callable[[list[Outgoing]], list[Refusal | None]] | None = None,
) -> None:
    """Ask `gate` about every message at `stage` (QUEUE or SEND), after the gates
    registered before it. Registering the same gate again does nothing.

    `many`, when given, answers for a list of messages at once (one refusal or None each,
    in order), so a batch (send_to_customers) asks in a few queries instead of a few per
    message; it must answer as `gate` would for each."""
    if stage not in _gates:
        raise ValueError(f"unknown gate stage {stage!r}: use outbox.QUEUE or outbox.SEND")
    if gate not in _gates[stage]:
        _gates[stage].append(gate)
    if many is not None:
        _gates_many[gate] = many


def register_on_sent(
    hook: SentHook, *, many: Callable[[list[Outgoing]], None] | None = None
) -> None:
    """Call `hook` after each message a provider accepted. Registering it again does nothing.

    `many`, when given, is called instead with every message of a sender's batch at once
    (chatbots.outbox.sender), so the hook can count them in one go."""
    if hook not in _on_sent:
        _on_sent.append(hook)
    if many is not None:
        _on_sent_many[hook] = many


def refusal(stage: Stage, outgoing: Outgoing) -> Refusal | None:
    """The first refusal of the gates of `stage`, or None when every gate lets it go."""
    for gate in _gates[stage]:
        refused = gate(outgoing)
        if refused is not None:
            return refused
    return None


def refusals(stage: Stage, outgoings: list[Outgoing]) -> list[Refusal | None]:
    """`refusal` for each of `outgoings`, in order: each gate is asked once for the messages
    no earlier gate refused (through its `many` when it has one)."""
    out: list[Refusal | None] = [None] * len(outgoings)
    for gate in _gates[stage]:
        todo = [i for i, refused in enumerate(out) if refused is None]
        if not todo:
            break
        asked = [outgoings[i] for i in todo]
        many = _gates_many.get(gate)
        answers = many(asked) if many is not None else [gate(o) for o in asked]
        for i, answer in zip(todo, answers, strict=True):
            out[i] = answer
    return out


def sent(outgoing: Outgoing) -> None:
    for hook in _on_sent:
        hook(outgoing)


def sent_many(outgoings: list[Outgoing]) -> None:
    """`sent` for a batch: each hook's `many` once, or the hook once per message."""
    if not outgoings:
        return
    for hook in _on_sent:
        many = _on_sent_many.get(hook)
        if many is not None:
            many(outgoings)
        else:
            for outgoing in outgoings:
                hook(outgoing)
