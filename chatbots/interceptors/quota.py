"""The plan's quota at the door of every turn (the rule itself is billing.quotas)."""

from __future__ import annotations

from billing.gate import inbound_gate
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from chatbots.wire import Text


class PlanQuota(Interceptor):
    """Over the plan's monthly messages (or unpaid past the grace period) the bot says a short
    notice once a day per customer, then nothing; canceled: nothing."""

    # A restart enters the flow's first step: an account over its quota gets no fresh menu.
    gates_restart = True

    def intercept(self, ctx: Context) -> Reply | None:
        gate = inbound_gate(
            tenant=ctx.chatbot.tenant,
            cliente_id=ctx.cliente.pk,
            chatbot_options=ctx.chatbot.options,
        )
        if not gate.blocked:
            return None
        return Reply(messages=[Text(body=gate.notice)] if gate.notice else [])
