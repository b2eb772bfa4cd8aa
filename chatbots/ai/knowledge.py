"""Answers without a model: keyword match on the knowledge entries, then our own facts.

Used when AI is off (no GEMINI_API_KEY, the embedded default), when the tenant's plan has no
AI or its allowance is spent, and while the circuit breaker is open. Nothing here mentions
AI: the customer just gets the business's answer, or the bot's usual fallback.

Matching: both sides normalized (case, accents, punctuation), stop words dropped, words
compared by their first letters ("abrem" = "abre", "domingos" = "domingo") and a few
synonym groups folded together ("abrem", "funcionam", "horário" -> hours).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from billing.models import Tenant
from chatbots.ai import prompt
from chatbots.models import KnowledgeEntry
from chatbots.text import normalize

MIN_SCORE = 0.5  # share of the customer's significant words an entry must cover
PREFIX = 4  # words sharing their first 4 letters count as the same word

STOPWORDS = frozenset(
    """a o as os um uma uns umas de da do das dos d em no na nos nas num numa e ou que qual
    quais quem como quando onde porque por pra pro para com sem se me te lhe eu tu voce voces
    vc vcs ele ela eles elas nos meu minha meus minhas seu sua seus suas teu tua isso isto esse
    essa esses essas este esta aquele aquela ai la aqui ja ate mais muito muita pouco tem ter
    tenho temos tinha ha sao ser e esta estao estou foi vai vou pode podem posso poderia
    gostaria queria quero saber favor por favor obrigado obrigada oi ola bom boa dia tarde
    noite tudo bem entao so tambem ainda sim nao the is are do you what when where how""".split()
)
# Words customers use for the same thing, folded into one key.
SYNONYMS = {
    "horario": "abre abrem aberto aberta abertos abrir fecha fecham fechado fechar funciona "
    "funcionam funcionando funcionamento expediente horario horarios hora horas atende "
    "atendem atendimento",
    "endereco": "endereco enderecos onde fica ficam localizacao localizados localizado local "
    "chegar rua",
    "entrega": "entrega entregam entregar entregas delivery frete tele motoboy",
    "pagamento": "pagamento pagar pagamentos pix cartao cartoes credito debito dinheiro aceita "
    "aceitam parcela parcelar",
    "preco": "preco precos custa custam custo valor valores quanto cobra cobram sai",
}
_CANONICAL = {word: key for key, words in SYNONYMS.items() for word in words.split()}
_PUNCT = re.compile(r"[^\w\s]")


def tokens(text: str) -> set[str]:
    """The significant words of `text`, normalized, synonyms folded."""
    words = _PUNCT.sub(" ", normalize(text)).split()
    out = set()
    for word in words:
        if word in _CANONICAL:
            out.add(_CANONICAL[word])
        elif word not in STOPWORDS and (len(word) > 2 or word.isdigit()):
            out.add(word[:-1] if len(word) > 4 and word.endswith("s") else word)
    return out


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    shorter = min(len(a), len(b))
    return shorter >= PREFIX and a[:PREFIX] == b[:PREFIX]


def _overlap(query: set[str], words: set[str]) -> set[str]:
    return {q for q in query if any(_same(q, w) for w in words)}


@dataclass(frozen=True)
class Match:
    entry: KnowledgeEntry
    score: float


def knowledge_match(*, tenant: Tenant, text: str) -> Match | None:
    """The active entry of `tenant` that best answers `text`, if one is close enough."""
    query = tokens(text)
    if not query:
        return None
    needed = 1 if len(query) <= 2 else 2
    best: Match | None = None
    for entry in prompt.knowledge_entries(tenant):
        question = tokens(entry.question)
        answer = tokens(entry.answer)
        in_question = _overlap(query, question)
        in_any = _overlap(query, question | answer)
        score = max(len(in_question) / len(query), 0.8 * len(in_any) / len(query))
        if len(in_any) < needed or score < MIN_SCORE:
            continue
        if best is None or score > best.score:
            best = Match(entry, score)
    return best


def local_answer(*, tenant: Tenant, text: str) -> str:
    """The business's answer to `text` without a model, or "" when we have none.

    Knowledge entries first (the business's own words), then facts from our data: prices
    of the products and services named, opening hours, address.
    """
    match = knowledge_match(tenant=tenant, text=text)
    if match is not None:
        return match.entry.answer.strip()
    query = tokens(text)
    if "preco" in query:
        priced = _priced_items(tenant, query - {"preco"})
        if priced:
            return "\n".join(priced)
    if "horario" in query:
        hours = prompt.hours_lines(tenant, prompt.profile_of(tenant))
        if hours:
            return _("Nosso horário de funcionamento:") + "\n" + "\n".join(f"• {h}" for h in hours)
    if "endereco" in query:
        profile = prompt.profile_of(tenant)
        if profile is not None and profile.address.strip():
            return _("Estamos em: %(endereco)s") % {"endereco": profile.address.strip()}
    return ""


def _priced_items(tenant: Tenant, query: set[str]) -> list[str]:
    """Lines "• name: price" of the products and services whose names the customer used."""
    if not query:
        return []
    from pedidos.models import Produto
    from pedidos.money import format_brl

    named: list[tuple[str, str]] = [
        (nome, format_brl(preco))
        for nome, preco in Produto.objects.filter(
            tenant=tenant, ativo=True, categoria__ativo=True
        ).values_list("nome", "preco")[: prompt.MAX_PRODUCTS]
    ]
    servico = prompt.agenda_model("Servico")
    if servico is not None:
        for nome, minutos, preco in servico.objects.filter(tenant=tenant, ativo=True).values_list(
            "nome", "duracao_minutos", "preco"
        )[: prompt.MAX_SERVICES]:
            price = format_brl(preco) if preco is not None else _("preço sob consulta")
            named.append((nome, f"{price} ({minutos} min)"))
    scored = [(len(_overlap(query, tokens(nome))), nome, price) for nome, price in named]
    top = max((hits for hits, _n, _p in scored), default=0)
    if not top:
        return []
    return [f"• {nome}: {price}" for hits, nome, price in scored if hits == top][:3]
