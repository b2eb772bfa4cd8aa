"""The assistant as a step: answers questions from what the business knows.

Obvious messages never cost a model call: a greeting gets a greeting, "quero pedir" and
"quero agendar" jump to those flows, a number or "ok" gets the invitation again. Free text
goes to chatbots.ai.assistant, which answers from the knowledge entries at once when AI is
off (no key, plan, breaker) or queues the model's answer on the `llm` queue.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots import wire as wa
from chatbots.ai import assistant, intent
from chatbots.ai.options import FLOW_INTENTS, flow_steps
from chatbots.handlers import schemas
from chatbots.handlers.base import Context, Handler, Reply
from chatbots.handlers.kit import STEP_CODE
from chatbots.handlers.registry import register

DEFAULT_TEXT = gettext_lazy(
    "Pode perguntar! 😊 Respondo sobre horários, endereço, produtos, preços e serviços."
)
GREETING_TEXT = gettext_lazy("Olá! 😊 Como posso ajudar?")
THANKS_TEXT = gettext_lazy("Por nada! 😊 Se precisar, é só escrever.")
TEXT_ONLY = gettext_lazy("Pode escrever sua pergunta em texto, por favor?")


@register
class AssistenteHandler(Handler):
    label = gettext_lazy("Assistente (responde dúvidas com a base de conhecimento)")
    config_help = gettext_lazy(
        'Opcionais: "text" (o convite ao chegar na etapa) e "flows" (as etapas que o '
        'assistente oferece como botão, por intenção: {"pedido": "inicio", "agendamento": '
        '"agendar"}; sem isso, a etapa inicial do fluxo de pedidos, se houver). As respostas '
        "vêm da base de conhecimento do assistente, dos horários, do endereço e do catálogo. "
        'Exemplo: {"text": "Tire suas dúvidas por aqui!"}'
    )
    config_schema = schemas.ASSISTANT
    KEYS = ("text", "flows")

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        errors = []
        for key in config:
            if key not in cls.KEYS:
                errors.append(
                    _("Chave desconhecida “%(key)s”. As chaves aceitas são: %(allowed)s.")
                    % {"key": key, "allowed": ", ".join(cls.KEYS)}
                )
        text = config.get("text")
        if text is not None and (not isinstance(text, str) or not text.strip()):
            errors.append(_("“text” deve ser um texto não vazio."))
        elif isinstance(text, str) and len(text) > wa.TEXT_MAX:
            errors.append(
                _("“text” tem %(length)s caracteres; o WhatsApp aceita no máximo %(limit)s.")
                % {"length": len(text), "limit": wa.TEXT_MAX}
            )
        flows = config.get("flows")
        if flows is not None:
            if not isinstance(flows, dict):
                errors.append(_('“flows” deve ser um objeto, por exemplo {"pedido": "inicio"}.'))
            else:
                for name, code in flows.items():
                    if name not in FLOW_INTENTS:
                        errors.append(
                            _("“flows”: “%(name)s” não é uma intenção; use %(allowed)s.")
                            % {"name": name, "allowed": ", ".join(FLOW_INTENTS)}
                        )
                    elif not isinstance(code, str) or not STEP_CODE.match(code):
                        errors.append(
                            _("“flows.%(name)s” deve ser o código de uma etapa.") % {"name": name}
                        )
        if errors:
            raise ValidationError(errors)

    @classmethod
    def referenced_steps(cls, config: dict[str, Any]) -> list[str]:
        flows = config.get("flows") or {}
        return [code for code in flows.values() if isinstance(code, str)]

    def enter(self, ctx: Context) -> Reply:
        return Reply(messages=[wa.Text(body=ctx.config.get("text") or str(DEFAULT_TEXT))])

    def handle(self, ctx: Context) -> Reply:
        if ctx.message is None or ctx.message.type != "text" or not ctx.text:
            return Reply(messages=[wa.Text(body=str(TEXT_ONLY))])
        guess = intent.classify_local(ctx.text)
        if guess.rule == "greeting":
            return Reply(messages=[wa.Text(body=str(GREETING_TEXT))])
        if guess.rule == "thanks":
            return Reply(messages=[wa.Text(body=str(THANKS_TEXT))])
        if guess.rule in ("option", "ack", "menu"):
            return self.enter(ctx)
        if guess.intent in FLOW_INTENTS and guess.settled:
            code = flow_steps(chatbot=ctx.chatbot, step=ctx.step).get(guess.intent)
            if code:
                return Reply(next_step=code)
        return assistant.reply_to_free_text(ctx, fallback=assistant.fallback_reply())
