"""The handler contract: the pluggable part of a flow.

A Step names a Handler subclass by its dotted path. The engine calls:

* `enter(ctx)` when the conversation arrives at the step: what the bot says there;
* `handle(ctx)` with the customer's answer while the conversation sits at the step.

Both return a `Reply`. Handlers never call a provider and never send by themselves: they
return messages and the engine saves them as queued outbound rows in the same transaction
as the step change and the state, then sends them after commit.

`Reply.next_step` is a step code to move to (the engine then calls that step's `enter`
and appends its messages), or None to stay. `state` is merged into the conversation's
state (`clear_state` empties it first). `end` closes the conversation (the next customer
message starts the flow again); `handoff` hands it to a person (the bot stays quiet), in
the attendant queue whose slug is `queue` (empty: the tenant's default queue; inbox.Queue).
`not_understood` marks a re-prompt ("I did not get that, pick an option"), which the engine
may replace with the assistant's answer to the free text.

Handlers that take configuration declare `validate_config(config)`, which raises
django.core.exceptions.ValidationError with a message naming the key and the fix; it runs
when a step is saved (admin, API, bind_tenant).

Handlers may also declare `config_schema`: the fields of their config, from which the staff
app's flow editor builds a form (staff.step_forms), so nobody types JSON. The schema only
describes the form; `validate_config` stays the one judge of a config.

A step whose answer is free text (a name, an address, a comment) says so with
`free_text = True`, or with `takes_free_text(config)` when it depends on the config: there,
a greeting, an intent or a question typed by the customer is the step's answer, and the
understanding interceptors (chatbots.interceptors.understanding) leave it alone; only a
message that is nothing but a request for a person, the opt-out words and "menu" still act.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from chatbots.wire import InboundMessage, Outbound

if TYPE_CHECKING:
    from chatbots.models import Chatbot, Conversation, Step
    from clientes.models import Cliente


@dataclass(frozen=True)
class ConfigField:
    """One key of a handler's config, as the flow editor shows it.

    kind: "text" (one line), "textarea", "step" (a step code of the same bot), "choice"
    (one of `choices`, pairs of value and pt-BR label), "integer", or "options" (a list of
    rows, each with the keys in `item_fields`; a menu's options).
    """

    key: str
    label: str
    kind: str = "text"
    required: bool = False
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    item_fields: tuple[ConfigField, ...] = ()


@dataclass
class Reply:
    messages: list[Outbound] = field(default_factory=list)
    next_step: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    clear_state: bool = False
    end: bool = False
    handoff: bool = False
    queue: str = ""  # with `handoff`: the slug of the attendant queue (inbox.models.Queue)
    # The step did not understand the answer and these messages re-prompt; a bot with the
    # assistant as fallback (Chatbot.options "ai_fallback") answers instead (chatbots.ai).
    not_understood: bool = False
    # Restart the flow at its first step (an interceptor's "menu"); the engine enters it.
    restart: bool = False


@dataclass
class Context:
    chatbot: Chatbot
    step: Step | None
    conversation: Conversation
    cliente: Cliente
    message: InboundMessage | None  # None when entering a step not because of a message
    state: dict[str, Any]  # a working copy; return changes through Reply.state

    @property
    def config(self) -> dict[str, Any]:
        return self.step.config if self.step is not None else {}

    @property
    def text(self) -> str:
        return (self.message.text if self.message else "").strip()

    @property
    def reply_id(self) -> str:
        return self.message.reply_id if self.message else ""


class Handler:
    """Base class of every step handler. Subclasses are registered with @register."""

    #: Shown in the admin's handler dropdown (pt-BR).
    label: ClassVar[str] = ""
    #: Shown under the config field in the admin: what keys the config takes.
    config_help: ClassVar[str] = ""
    #: A typed "cancelar" at this step is the step's own answer (it cancels what the step is
    #: about), never an opt-out nor another flow's cancel (chatbots.handlers.cancel).
    owns_cancel: ClassVar[bool] = False
    #: The step's answer is free text: "oi", "quero pedir" or "vocês abrem domingo?" typed
    #: here is the answer, not a greeting, an intent or a question (see the module docstring).
    free_text: ClassVar[bool] = False

    #: The config's fields for the flow editor's form (ConfigField); None: a raw JSON box.
    config_schema: ClassVar[tuple[ConfigField, ...] | None] = None

    @classmethod
    def path(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Raise ValidationError when `config` cannot work. Default: any dict."""

    @classmethod
    def takes_free_text(cls, config: dict[str, Any]) -> bool:
        """Whether this step, with `config`, takes free text as its answer. Default: `free_text`."""
        return cls.free_text

    @classmethod
    def referenced_steps(cls, config: dict[str, Any]) -> list[str]:
        """The step codes this handler may move to with `config` (a valid one).

        `chatbots.handlers.registry.validate_flow` checks that each exists in the bot's flow
        when the flow is saved; a step's own config cannot know its siblings. Default: none.
        """
        return []

    def enter(self, ctx: Context) -> Reply:
        return Reply()

    def handle(self, ctx: Context) -> Reply:
        raise NotImplementedError
