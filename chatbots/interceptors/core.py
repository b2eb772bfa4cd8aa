"""The generic interceptors: rules of the conversation itself, whatever the flow."""

from __future__ import annotations

from django.utils.translation import gettext as _

from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from chatbots.models import Conversation
from chatbots.text import normalize
from chatbots.wire import Text

DEFAULT_RESTART_KEYWORDS = ("menu", "reiniciar", "inicio", "voltar ao inicio")


class HumanHandoff(Interceptor):
    """While a person attends (or the customer waits for one), the bot stays quiet."""

    def intercept(self, ctx: Context) -> Reply | None:
        if ctx.conversation.status in (Conversation.Status.HUMAN, Conversation.Status.WAITING):
            return Reply()
        return None


class GlobalCommands(Interceptor):
    """ "menu" / "reiniciar" from anywhere restarts the flow at its first step (the bot's
    options may replace the words: Chatbot.options "restart_keywords")."""

    def intercept(self, ctx: Context) -> Reply | None:
        keywords = ctx.chatbot.options.get("restart_keywords") or DEFAULT_RESTART_KEYWORDS
        if ctx.message is not None and ctx.message.type in ("text", "interactive", "button"):
            if normalize(ctx.text) in {normalize(k) for k in keywords}:
                return Reply(clear_state=True, restart=True)
        return None


class UnsupportedMessage(Interceptor):
    """A message type WhatsApp itself could not deliver to us: say so, keep the step."""

    def intercept(self, ctx: Context) -> Reply | None:
        if ctx.message is not None and ctx.message.type in ("unsupported", "unknown"):
            return Reply(
                messages=[
                    Text(
                        body=_(
                            "Desculpe, não consigo ler esse tipo de mensagem. "
                            "Pode escrever em texto?"
                        )
                    )
                ]
            )
        return None
