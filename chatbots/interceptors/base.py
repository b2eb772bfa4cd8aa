"""The interceptor contract: a rule that runs on every customer message before the step.

An interceptor is a small class listed by dotted path in `settings.CHATBOT_INTERCEPTORS`
(in the order they run). The engine builds one instance of each at start-up and calls
`intercept(ctx)` for every customer message:

- return None: not for this rule; the next interceptor (and finally the current step's
  handler) runs;
- return a Reply: the message is handled; nothing after it runs. A `Reply(restart=True)`
  restarts the flow at its first step (the engine enters it); the interceptors after it
  whose `gates_restart` is True still run first, and the first of them to return a Reply
  answers instead (a plan over its quota does not get a fresh menu).

Interceptors never send: like handlers, they return messages and the engine queues them in
the same transaction as the rest of the turn.
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
