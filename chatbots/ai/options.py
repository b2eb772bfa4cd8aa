"""The assistant's per-bot settings, read from Chatbot.options.

Keys (all optional):

* "ai_fallback": true: free text a step does not understand is answered by the assistant
  instead of the step's re-prompt (default false: the step re-prompts, as without this issue);
* "ai_tone": "informal" (default) or "formal";
* "ai_empathy": true (default) acknowledges an upset customer's feelings first;
* "ai_waiting_text": said at once while the model works ("Só um instante…"); default nothing;
* "ai_flows": {"pedido": "inicio", "agendamento": "agendar"}: the steps an answer may propose
  as a button; by default the order flow's first step when the bot has it;
* "ai_handoff_offer": whether an explicit request for a person or a very negative message
  gets the "talk to a person?" buttons; default: on when the assistant is used;
* "ai_handoff_text": what the bot says when the customer taps "Falar com atendente";
* "ai_handoff_queue": the slug of the attendant queue (inbox.models.Queue) that "Falar com
  atendente" hands the customer to; default: the tenant's default queue;
* "ai_screening": false turns off the model's classification of each message before it
  is answered (chatbots.ai.classifier; one short extra call, metered like the answer);
  default on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatbots.models import Chatbot, Message, Step

ASSISTANT_PATH = "chatbots.handlers.assistant.AssistenteHandler"
ORDER_FLOW_START = "chatbots.handlers.pedidos.InicioHandlerPedidos"
AGENDA_START = "chatbots.handlers.agenda.AgendaInicioHandler"
AGENDA_HANDLERS = "chatbots.handlers.agenda."
# Intents an answer may turn into a "go to that flow" button.
FLOW_INTENTS = (Message.Intent.PEDIDO.value, Message.Intent.AGENDAMENTO.value)


@dataclass(frozen=True)
class AIOptions:
    fallback: bool = False
    tone: str = "informal"
    empathy: bool = True
    waiting_text: str = ""
    flows: dict[str, str] = field(default_factory=dict)
    handoff_offer: bool | None = None
    handoff_text: str = ""
    handoff_queue: str = ""
    screening: bool = True


def ai_options(chatbot: Chatbot) -> AIOptions:
    """The bot's assistant settings; anything malformed falls back to the default."""
    raw: dict[str, Any] = chatbot.options if isinstance(chatbot.options, dict) else {}
    tone = raw.get("ai_tone")
    flows = raw.get("ai_flows")
    offer = raw.get("ai_handoff_offer")
    waiting = raw.get("ai_waiting_text")
    handoff_text = raw.get("ai_handoff_text")
    handoff_queue = raw.get("ai_handoff_queue")
    return AIOptions(
        fallback=raw.get("ai_fallback") is True,
        tone=tone if tone in ("formal", "informal") else "informal",
        empathy=raw.get("ai_empathy") is not False,
        waiting_text=waiting.strip() if isinstance(waiting, str) else "",
        flows={
            k: v
            for k, v in (flows.items() if isinstance(flows, dict) else [])
            if k in FLOW_INTENTS and isinstance(v, str) and v
        },
        handoff_offer=offer if isinstance(offer, bool) else None,
        handoff_text=handoff_text.strip() if isinstance(handoff_text, str) else "",
        handoff_queue=handoff_queue.strip() if isinstance(handoff_queue, str) else "",
        screening=raw.get("ai_screening") is not False,
    )


def assistant_in_use(chatbot: Chatbot, step: Step | None) -> bool:
    """True when the assistant answers this bot's free text (fallback on, or at its step)."""
    if step is not None and step.handler_path == ASSISTANT_PATH:
        return True
    return ai_options(chatbot).fallback


def handoff_offer_on(chatbot: Chatbot, step: Step | None) -> bool:
    explicit = ai_options(chatbot).handoff_offer
    return explicit if explicit is not None else assistant_in_use(chatbot, step)


def flow_steps(*, chatbot: Chatbot, step: Step | None = None) -> dict[str, str]:
    """intent -> step code an answer may propose: detected < options "ai_flows" < step config.

    Only active steps of this bot count, so a button never points at a missing step.
    """
    rows = list(
        Step.objects.filter(chatbot=chatbot, active=True)
        .order_by("order", "id")
        .values_list("code", "handler_path")
    )
    codes = {code for code, _path in rows}
    found: dict[str, str] = {}
    for code, path in rows:
        if path == ORDER_FLOW_START:
            found.setdefault(Message.Intent.PEDIDO, code)
        elif path == AGENDA_START:
            found[Message.Intent.AGENDAMENTO] = code
        elif path.startswith(AGENDA_HANDLERS):
            found.setdefault(Message.Intent.AGENDAMENTO, code)
    found.update(ai_options(chatbot).flows)
    if step is not None and step.handler_path == ASSISTANT_PATH:
        configured = step.config.get("flows") if isinstance(step.config, dict) else None
        if isinstance(configured, dict):
            found.update({k: v for k, v in configured.items() if k in FLOW_INTENTS})
    return {str(k): v for k, v in found.items() if v in codes}
