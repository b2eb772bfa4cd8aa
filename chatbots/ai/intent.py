"""Intent and sentiment of a customer's message.

Cheap local rules first, for the obvious cases ("oi", "1", "menu", "quero pedir",
"atendente", "péssimo atendimento"): most messages of a flow are these, and they must never
cost a model call. Free text the rules cannot settle gets its intent and polarity from the
model's structured output when the assistant calls the model anyway (chatbots.ai.assistant).
Both are stored on the inbound Message and counted in Prometheus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prometheus_client import Counter

from chatbots.models import Message
from chatbots.text import normalize
from chatbots.wire import InboundMessage

Intent = Message.Intent
Polarity = Message.Polarity

INTENTS_SEEN = Counter(
    "chatbot_message_intents_total",
    "Customer messages by intent; source: local rules or the model",
    ["intent", "source"],
)
POLARITY_SEEN = Counter(
    "chatbot_message_polarity_total",
    "Customer messages by polarity; source: local rules or the model",
    ["polarity", "source"],
)


@dataclass(frozen=True)
class Guess:
    intent: str  # a Message.Intent value, or "" when the rules cannot tell
    polarity: str  # a Message.Polarity value, or ""
    rule: str = ""  # which rule decided (greeting, option, menu, thanks, humano, ...)

    @property
    def settled(self) -> bool:
        """True when nothing is left for a model to find out (a greeting, a number...)."""
        return self.rule in SETTLED_RULES


UNKNOWN = Guess("", "")
# Rules a flow acts on (chatbots.handlers.intents): an order, booking, changing or seeing an
# appointment, an order's status; and opting out in words (chatbots.interceptors.consent).
FLOW_RULES = frozenset({"pedido", "agenda", "agenda_change", "meu_horario", "status"})
# Asking for something by name ("quero uma pizza calabresa", "me vê duas cocas"): an order
# only when the business's menu has it, which the order flow decides
# (chatbots.handlers.pedidos.intake); never settled, so a question or the model still gets
# what the menu does not have ("quero um hambúrguer" at a pizzeria).
WANTS_RULE = "wants"
SETTLED_RULES = frozenset(
    {"greeting", "option", "menu", "thanks", "ack", "humano", "optout", *FLOW_RULES}
)


def _words(*phrases: str) -> re.Pattern:
    """A pattern matching any of `phrases` as whole words of the normalized text."""
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


_PUNCT = re.compile(r"[^\w\s]")
_OPTION = re.compile(r"^(?:(?:opcao|opc|op|numero|num|no|n|item)\s*)?\d{1,3}$")
_GREETING = re.compile(
    r"^(?:oi+|ola|ol[aá]+|opa|e ai|eai|hello|hi|hey|bom dia|boa tarde|boa noite|tudo bem|"
    r"tudo bom|oi tudo bem|ola tudo bem|oi bom dia|oi boa tarde|oi boa noite|ola bom dia|"
    r"ola boa tarde|ola boa noite|buenas|buenos dias|buenas tardes|hola)(?: \w+)?$"
)
_MENU = re.compile(r"^(?:menu|inicio|voltar|reiniciar|comecar|recomecar|opcoes|sair|fim)$")
_THANKS = re.compile(
    r"^(?:(?:muito )?obrigad[oa]s?|brigad[oa]|valeu|vlw|obg|grat[oa]|gracias|thanks|"
    r"thank you|ok obrigad[oa]|perfeito obrigad[oa])(?: \w+)?$"
)
_ACK = re.compile(r"^(?:ok|okay|certo|beleza|blz|show|combinado|entendi|ta bom|ta|sim|nao)$")
_HUMANO = _words(
    r"atendente",
    r"atendimento humano",
    r"humano",
    r"pessoa de verdade",
    r"falar com (?:uma |um |a |o )?(?:pessoa|alguem|gerente|responsavel|dono|dona|vendedor|"
    r"vendedora|funcionario|funcionaria)",
    r"quero falar com (?:voces|alguem)",
    r"(?:hablar|habla) con (?:una persona|alguien|un agente)",
    r"(?:talk|speak) to (?:a )?(?:human|person|agent|someone)",
)
_PEDIDO = _words(
    r"quero pedir",
    r"queria pedir",
    r"gostaria de pedir",
    r"fazer (?:um |o |meu )?pedido",
    r"quero (?:fazer )?(?:uma )?encomenda",
    r"quero encomendar",
    r"ver o cardapio",
    r"manda o cardapio",
    r"mostra o cardapio",
)
_AGENDA = _words(
    r"agendar",
    r"agendamento",
    r"marcar (?:um |uma )?(?:horario|consulta|hora|atendimento|avaliacao|sessao)",
    # "quero marcar um corte amanhã": the service is the business's word, not ours.
    r"(?:quero|queria|gostaria de|preciso|posso|podemos|pode|vou|da pra|da para) marcar",
    r"marcar (?:um|uma|pra|para)",
)
# Moving or cancelling an appointment: the agenda's "Meu horário" has those buttons.
_AGENDA_CHANGE = _words(
    r"reagendar",
    r"remarcar",
    r"desmarcar",
    r"(?:cancelar|mudar|trocar) (?:o |meu |minha |a )?(?:horario|consulta|agendamento|sessao)",
)
_MEU_HORARIO = _words(
    r"meu (?:proximo )?(?:horario|agendamento)",
    r"minha (?:proxima )?(?:consulta|sessao|reserva)",
    r"(?:ver|saber) (?:o |meu )?horario marcado",
)
# "cadê meu pedido?": the customer's last order and its status (not a new order).
_STATUS = _words(
    r"cade (?:o |a )?(?:meu |minha )?(?:pedido|encomenda|entrega|lanche|comida)",
    r"(?:status|situacao|andamento|previsao) d[oa] (?:meu |minha )?(?:pedido|encomenda|entrega)",
    r"acompanhar (?:o |a |meu |minha )?(?:pedido|encomenda|entrega)",
    r"onde (?:esta|ta|anda) (?:o |a )?(?:meu |minha )?(?:pedido|encomenda|entrega)",
    r"(?:como|como que) (?:esta|ta) (?:o |meu )?pedido",
    r"pedido (?:ja )?(?:saiu|esta pronto|ta pronto|esta a caminho|ta a caminho)",
    r"ja saiu (?:o |meu )?pedido",
)
_STATUS_ONLY = re.compile(r"^(?:e |e o |o |sobre o )?meu (?:ultimo )?pedido$")
# Opting out in words, as SAIR does (compliance.consent): specific phrases only, so an order
# note ("não quero cebola") or "não quero mais receber o pedido" is never one.
_OPTOUT = _words(
    r"sair (?:da|dessa|desta|de sua|da sua) lista",
    r"(?:me )?(?:tira|tirar|tirem|tire|remove|remover|remova|removam|exclui|excluir|exclua)"
    r" (?:meu numero |meu contato |o meu numero )?(?:da|dessa|desta|de sua|da sua) lista",
    r"(?:nao )?(?:quero|desejo) (?:mais )?(?:parar de receber|sair da lista)",
    r"nao (?:quero|desejo) (?:mais )?receber (?:mais )?(?:mensage(?:m|ns)|msgs?|promocoes|promocao|"
    r"ofertas?|novidades|propagandas?|essas mensagens|nada de voces)",
    r"(?:parem|pare|para) de (?:me )?(?:mandar|enviar) (?:mensage(?:m|ns)|msgs?|promocoes|ofertas)",
    r"nao me (?:mande|mandem|envie|enviem) mais (?:mensage(?:m|ns)|msgs?|nada)",
    r"descadastr(?:ar|e|em)(?: meu numero)?",
)
# "quero uma pizza", "queria duas cocas", "me vê um açaí": a verb of wanting and a thing,
# never "não quero cebola" (an order note) nor a verb ("quero saber", "quero cancelar").
_WANTS = re.compile(
    r"(?<!nao )\b(?:quero|queria|vou querer|gostaria de|me ve|me da|me manda|manda|mande|"
    r"traz|traga)\b (?:(?:um|uma|uns|umas|o|a|os|as|mais|dois|duas|tres|\d{1,2}) )?"
    r"(?!\w+(?:ar|er|ir|or)\b)\w"
)
# Questions: a question mark, or the words a pt-BR question starts with.
_QUESTION_START = re.compile(
    r"^(?:o que|que|qual|quais|quando|onde|aonde|como|quanto|quantos|quantas|por que|porque|"
    r"pq|voces|vcs|vc|voce|tem|tens|teria|aceita|aceitam|abre|abrem|fecha|fecham|funciona|"
    r"funcionam|faz|fazem|entrega|entregam|atende|atendem|pode|posso|podem|da pra|existe|"
    r"e possivel|sera|seria|cade)\b"
)
# A message that is only a request for a person ("atendente", "quero falar com uma pessoa").
_PERSON_WORDS = frozenset(
    "atendente atendentes humano humana pessoa alguem gerente responsavel funcionario "
    "funcionaria".split()
)
# Asking for one inside a longer message ("quero falar com um atendente sobre meu pedido");
# a word alone ("o atendente foi ótimo") is not asking.
_PERSON_ASK = _words(
    r"(?:falar|conversar) com (?:uma |um |a |o |algum |alguma )?(?:pessoa|alguem|atendente|"
    r"humano|gerente|responsavel|dono|dona|vendedor|vendedora|funcionario|funcionaria)",
    r"atendimento humano",
    r"pessoa de verdade",
    r"(?:quero|queria|preciso de|prefiro) (?:um |uma |o |a )?(?:atendente|humano|pessoa)",
    r"chama(?:r)? (?:um |uma |o |a )?(?:atendente|pessoa|alguem|gerente|humano)",
    r"(?:me )?(?:passa|passar|transfere|transferir|transfira) (?:para|pra) (?:um |uma |o |a )?"
    r"(?:atendente|pessoa|alguem|humano)",
    r"(?:talk|speak) to (?:a )?(?:human|person|agent|someone)",
)
_PERSON_FILLERS = frozenset(
    """eu quero queria gostaria de preciso posso pode poderia prefiro da pra para falar
    conversar com me passa passar transfere transferir transfira chama chamar um uma o a
    algum alguma por favor pfv pf agora urgente oi ola atendimento verdade real""".split()
)
_VERY_NEGATIVE = _words(
    r"pessim[oa]",
    r"horrivel",
    r"absurd[oa]",
    r"vergonha",
    r"lixo",
    r"procon",
    r"reclame aqui",
    r"nunca mais",
    r"palhacada",
    r"descaso",
    r"ridicul[oa]",
    r"inadmissivel",
    r"revoltad[oa]",
    r"furios[oa]",
    r"uma merda",
    r"porcaria",
    r"enganad[oa]",
    r"golpe",
    r"vou (?:te |os )?processar",
    r"advogado",
    r"terrible",
    r"horrible",
    r"pesimo",
)
_NEGATIVE = _words(
    r"nao chegou",
    r"ainda nao chegou",
    r"atrasad[oa]",
    r"atraso",
    r"demora",
    r"demorando",
    r"problema",
    r"errad[oa]",
    r"reclamacao",
    r"reclamar",
    r"insatisfeit[oa]",
    r"chatead[oa]",
    r"decepcionad[oa]",
    r"(?:chegou|veio|esta|ta) fri[oa]",
    r"veio faltando",
    r"faltando",
    r"quebrad[oa]",
    r"estragad[oa]",
    r"reembolso",
    r"devolucao",
)
_POSITIVE = _words(
    r"adorei",
    r"amei",
    r"maravilhos[oa]",
    r"excelente",
    r"otimo atendimento",
    r"parabens",
    r"muito bom",
    r"muito boa",
    r"delicios[oa]",
    r"perfeito",
)


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", _PUNCT.sub(" ", normalize(text))).strip()


def classify_local(text: str) -> Guess:
    """The intent and polarity the local rules see in `text` (UNKNOWN when none applies)."""
    key = _key(text)
    if not key:
        return UNKNOWN
    if _OPTION.match(key):
        return Guess(Intent.OUTRO, Polarity.NEUTRAL, "option")
    if _MENU.match(key):
        return Guess(Intent.OUTRO, Polarity.NEUTRAL, "menu")
    if _GREETING.match(key):
        return Guess(Intent.OUTRO, Polarity.NEUTRAL, "greeting")
    if _THANKS.match(key):
        return Guess(Intent.OUTRO, Polarity.POSITIVE, "thanks")
    if _ACK.match(key):
        return Guess(Intent.OUTRO, Polarity.NEUTRAL, "ack")
    polarity = ""
    if _VERY_NEGATIVE.search(key):
        polarity = Polarity.VERY_NEGATIVE
    elif _NEGATIVE.search(key):
        polarity = Polarity.NEGATIVE
    elif _POSITIVE.search(key):
        polarity = Polarity.POSITIVE
    if _OPTOUT.search(key):
        return Guess(Intent.OUTRO, polarity or Polarity.NEUTRAL, "optout")
    if _HUMANO.search(key):
        return Guess(Intent.HUMANO, polarity or Polarity.NEUTRAL, "humano")
    if _STATUS_ONLY.match(key) or _STATUS.search(key):
        # Before complaints: "cadê meu pedido? tá atrasado" is answered with its status first.
        return Guess(Intent.SUPORTE, polarity or Polarity.NEUTRAL, "status")
    if polarity in (Polarity.VERY_NEGATIVE, Polarity.NEGATIVE):
        # A complaint is support, whatever else it mentions ("o pedido veio errado").
        return Guess(Intent.SUPORTE, polarity, "complaint")
    if _PEDIDO.search(key):
        return Guess(Intent.PEDIDO, polarity or Polarity.NEUTRAL, "pedido")
    if _AGENDA_CHANGE.search(key):
        return Guess(Intent.AGENDAMENTO, polarity or Polarity.NEUTRAL, "agenda_change")
    if _MEU_HORARIO.search(key):
        return Guess(Intent.AGENDAMENTO, polarity or Polarity.NEUTRAL, "meu_horario")
    if _AGENDA.search(key):
        return Guess(Intent.AGENDAMENTO, polarity or Polarity.NEUTRAL, "agenda")
    if _WANTS.search(key) and not is_question(text):
        return Guess("", polarity, WANTS_RULE)
    if polarity:
        return Guess("", polarity, "sentiment")
    return UNKNOWN


def classify_inbound(message: InboundMessage) -> Guess:
    """Local guess for a stored customer message: typed text only (taps are choices)."""
    if message.type != "text":
        return UNKNOWN
    guess = classify_local(message.text)
    count(guess, source="local")
    return guess


def count(guess: Guess, *, source: str) -> None:
    if guess.intent:
        INTENTS_SEEN.labels(intent=str(guess.intent), source=source).inc()
    if guess.polarity:
        POLARITY_SEEN.labels(polarity=str(guess.polarity), source=source).inc()


def wants_person(guess: Guess) -> bool:
    """An explicit request for a person, or a strongly negative message: offer the handoff."""
    return guess.intent == Intent.HUMANO or guess.polarity == Polarity.VERY_NEGATIVE


def is_question(text: str) -> bool:
    """Does `text` read as a question ("vocês abrem domingo?", "qual o endereço")?"""
    return "?" in text or bool(_QUESTION_START.match(_key(text)))


def person_request_only(text: str) -> bool:
    """Is `text` nothing but a request for a person ("atendente", "quero falar com uma
    pessoa, por favor")? Steps that take free text hand over only then: "o atendente foi
    ótimo" is a comment."""
    words = _key(text).split()
    return (
        bool(words)
        and any(w in _PERSON_WORDS for w in words)
        and all(w in _PERSON_WORDS or w in _PERSON_FILLERS for w in words)
    )


def asks_for_person(text: str) -> bool:
    """Does `text` ask for a person: only that, or in so many words ("quero falar com um
    atendente sobre o meu pedido")? Mentioning one ("o atendente foi ótimo") is not asking."""
    return person_request_only(text) or bool(_PERSON_ASK.search(_key(text)))
