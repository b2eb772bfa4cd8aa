"""The interceptor contract: a rule that runs on every customer message before the step.

An interceptor is a small `Interceptor` subclass listed by dotted path in
`settings.CHATBOT_INTERCEPTORS`, in the order they run. `chatbots.interceptors.registry`
imports and instantiates each one once per process (so an instance must keep no
per-message state: nothing may keep conversation state in process memory) and the engine
calls `intercept(ctx)` for every customer message, inside the turn's transaction, with the
contact's lock held:

- return None: not for this rule; the next interceptor (and finally the current step's
  handler) runs;
- return a Reply: the message is handled; nothing after it runs. Its `next_step`, `state`,
  `end` and `handoff` apply as a handler's would. A `Reply(restart=True)` restarts the flow
  at its first step (the engine enters it); the interceptors after it whose
  `gates_restart` is True still run first, and the first of them to return a Reply answers
  instead (a plan over its quota does not get a fresh menu).

Interceptors never send: like handlers, they return messages and the engine queues them in
the same transaction as the rest of the turn. A path that does not import, or names
something that is not an Interceptor subclass, stops the start-up (system checks
chatbots.E003 and chatbots.E004).
"""

from __future__ import annotations

from typing import ClassVar

from chatbots.handlers.base import Context, Reply


class Interceptor:
    """Base class of every interceptor (see the module docstring for the contract)."""

    #: Also runs after an earlier interceptor asked for a restart (plan quota, for example).
    gates_restart: ClassVar[bool] = False

    def intercept(self, ctx: Context) -> Reply | None:  # pragma: no cover - contract
        raise NotImplementedError

    @classmethod
    def path(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"
