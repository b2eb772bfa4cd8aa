"""Behind the model: whether an answer may be sent to this customer.

No system-instruction text, no secrets, no other customer's data, no link outside the
tenant's allowlist, nothing WhatsApp would refuse; and no promise the business did not
make: every price (R$ …), percentage, discount or freebie ("desconto", "grátis", "cupom",
"% off") and policy deadline ("troca em até 30 dias") in the answer must be found in the
tenant's own data (catalogue prices, knowledge entries, profile), the text the model was
grounded on. A model talked into "50 % de desconto pra você" or "frete grátis hoje" by a
customer the input screens missed is stopped here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from chatbots.ai.guard.screen import BLOCKED
from chatbots.ai.guard.text import fold

# The answer must fit in an interactive body (1024, Meta "interactive" object) so it can
# carry the "go to the order flow" / "talk to a person" buttons.
MAX_ANSWER_CHARS = 1024


@dataclass(frozen=True)
class OutputPolicy:
    """What an answer may contain, for one customer of one tenant."""

    rules: str = ""  # the fixed instruction text (not the business facts, which may be quoted)
    canary: str = ""  # a marker only the system instruction holds
    facts: str = ""  # the business facts given to the model (their phones/links/prices are fine)
    own_phones: Iterable[str] = ()  # the customer's own numbers and the business's
    allowed_domains: Iterable[str] = ()
    secrets: Iterable[str] = ()


@dataclass(frozen=True)
class OutputVerdict:
    ok: bool
    reason: str = ""

    @property
    def promise(self) -> bool:
        """Refused for promising a price, a discount or a rule not in the tenant's data."""
        return self.reason in PROMISE_REASONS


PROMISE_REASONS = ("price", "discount", "rule")

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'()]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|app|me|ly|co|info|biz|xyz|link|site|online|store|"
    r"shop|br|gl|gg|tk|ru|cn)(?:\.br)?(?:/[^\s<>\"'()]*)?\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\w/])\+?\d[\d\s().-]{7,}\d(?![\w/])")
_CPF = re.compile(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b|\b\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}\b")
_SECRET_SHAPES = re.compile(
    r"AIza[0-9A-Za-z_\-]{30,}|\bsk-[A-Za-z0-9_\-]{16,}|-----BEGIN [A-Z ]+-----"
    r"|\bBearer\s+[A-Za-z0-9._\-]{20,}|\bEAA[A-Za-z0-9]{30,}|\bgh[pousr]_[A-Za-z0-9]{30,}"
)
_WORDS = re.compile(r"\w+")
SHINGLE = 8  # this many consecutive words of the instruction in an answer is a leak

# --- Promises (on folded text) ---
_NUMBER = r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_MONEY = re.compile(
    rf"(?:r\$|\brs\b\.?|\$)\s?({_NUMBER})|\b({_NUMBER})\s?(?:reais|real|conto|contos)\b"
)
_PERCENT = re.compile(r"\b(\d{1,3}(?:[.,]\d{1,2})?)\s?(?:%|por cento|porcento|percent)")
# Kinds of favour, each a family of words: the family must appear in the facts.
PERKS = {
    "desconto": r"descontos?|abatimento|descuentos?|discounts?|\d\s?% off|\boff\b",
    "gratis": r"gratis|gratuit[oa]s?|de graca|sem custo|sem cobranca|cortesia|free|gratuito",
    "brinde": r"brindes?|mimos?",
    "cupom": r"cupom|cupons|cupon(?:es)?|coupons?|vouchers?|voucher",
    "promocao": r"promocao|promocoes|promocional|promocion(?:es)?|promo\b",
    "cashback": r"cashback",
    "reembolso": r"reembolsos?|reembolsar|reembolsamos|estornos?|estornar|estornamos|refunds?",
    "isencao": r"isencao|isent[oa]s?|sem taxa|exento|exenta",
}
_PERK = re.compile("|".join(rf"(?P<{k}>\b(?:{v}))" for k, v in PERKS.items()))
# Policies an answer may not make up: a warranty, a return or refund window, a loyalty
# period, a fine. Deadlines are checked by their numbers ("troca em até 30 dias").
POLICIES = {
    "garantia": r"garantia|garantimos|warranty|guarantee",
    "devolucao": r"devolucao|devolucoes|devolver|devolvemos|devolvido|devolucion",
    "fidelidade": r"fidelidade|fidelizacao",
    "multa": r"multas?|penalidade",
    "carencia": r"carencia",
}
_POLICY = re.compile("|".join(rf"(?P<{k}>\b(?:{v}))" for k, v in POLICIES.items()))
_DEADLINE_TERMS = re.compile(
    r"\b(?:prazo|garantia|devolu\w*|devolver|troca|trocas|trocar|reembols\w*|cancela\w*|"
    r"validade|fidelidade|carencia|multa|estorno)\b"
)
_DURATION = re.compile(r"\b(\d{1,4})\s?(?:dias?|meses|mes|semanas?|anos?|horas?|h)\b")
_NEGATION = re.compile(r"\b(?:nao|nenhum|nenhuma|nunca|not|no|sem informacao|infelizmente)\b")
_NOT_NEGATION = re.compile(r"\bnao (?:perca|perde|deixe de|esqueca)\b")
_SENTENCE = re.compile(r"[^.!?\n]+")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORDS.findall(fold(text))
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def _host_allowed(host: str, domains: set[str]) -> bool:
    host = host.lower().strip(".")
    if host.startswith("www."):
        host = host[4:]
    return any(host == d or host.endswith("." + d) for d in domains)


def _domains_in(text: str) -> set[str]:
    hosts = set()
    for raw in _URL.findall(text or ""):
        url = raw if "://" in raw else "http://" + raw
        host = (urlsplit(url).hostname or "").lower()
        if host.startswith("www."):
            host = host[4:]
        if host:
            hosts.add(host)
    return hosts


def _amount(raw: str) -> Decimal | None:
    """'1.234,56', '4,50', '4.50', '10' -> Decimal (Brazilian and plain notations)."""
    if "," in raw:
        raw = raw.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+", raw):
        raw = raw.replace(".", "")
    try:
        return Decimal(raw).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _amounts(folded: str) -> set[Decimal]:
    found = set()
    for match in _MONEY.finditer(folded):
        value = _amount(match.group(1) or match.group(2))
        if value is not None:
            found.add(value)
    return found


def _percents(folded: str) -> set[Decimal]:
    return {a for m in _PERCENT.finditer(folded) if (a := _amount(m.group(1))) is not None}


_STOP = frozenset(
    "voce voces para pelo pela pelos pelas como mais essa esse esta este isso aqui hoje agora "
    "todo toda todos todas qualquer cada quando onde nosso nossa nossos nossas sempre muito "
    "pode podemos temos fica ficam sair saem seus suas your with this that from".split()
)


def _stems(sentence: str) -> set[str]:
    """The sentence's significant words, compared by their first five letters."""
    return {w[:5] for w in re.findall(r"[a-z]{4,}", sentence) if w not in _STOP}


def _mentions(pattern: re.Pattern, folded: str, *, skip_negated: bool) -> list[tuple[str, set]]:
    """(family, the other words of its sentence) for each favour or policy named."""
    found = []
    for sentence in _SENTENCE.findall(folded):
        for match in pattern.finditer(sentence):
            before = sentence[: match.start()]
            if skip_negated and _NEGATION.search(before) and not _NOT_NEGATION.search(before):
                continue  # "não temos desconto" promises nothing
            words = _stems(sentence[: match.start()] + " " + sentence[match.end() :])
            found.append((match.lastgroup, words))
    return found


def _ungrounded(pattern: re.Pattern, said: str, grounded: str) -> bool:
    """Whether `said` names a favour or policy that no sentence of the facts names about
    the same thing: "entrega grátis" in the facts grounds "a entrega é grátis", not "a
    Coca sai de graça"."""
    known = _mentions(pattern, grounded, skip_negated=False)
    for family, words in _mentions(pattern, said, skip_negated=True):
        if not any(f == family and (w & words or not w) for f, w in known):
            return True
    return False


def _known_amounts(facts: set[Decimal]) -> set[Decimal]:
    """Prices in the facts, a few of the same item and two items together (an order's
    total, an item plus the delivery fee): what an answer may add up from the data."""
    known = {p * k for p in facts for k in range(1, 21)}
    known |= {a + b for a, b in itertools.combinations(facts, 2)}
    return known


def promise_problem(answer: str, facts: str) -> str:
    """ "price", "discount" or "rule" when `answer` states one that `facts` do not hold."""
    said, grounded = fold(answer), fold(facts)
    if _amounts(said) - _known_amounts(_amounts(grounded)):
        return "price"
    if _percents(said) - _percents(grounded):
        return "discount"
    if _ungrounded(_PERK, said, grounded):
        return "discount"
    if _ungrounded(_POLICY, said, grounded):
        return "rule"
    numbers = set(re.findall(r"\d+", grounded))
    for sentence in _SENTENCE.findall(said):
        if _DEADLINE_TERMS.search(sentence) and any(
            n not in numbers for n in _DURATION.findall(sentence)
        ):
            return "rule"
    return ""


def check_output(answer: str, policy: OutputPolicy) -> OutputVerdict:
    """Whether the model's `answer` may be sent to this customer."""
    text = (answer or "").strip()
    if not text:
        return _failed("empty")
    if len(text) > MAX_ANSWER_CHARS:
        return _failed("too_long")
    folded = fold(text)
    if policy.canary and policy.canary.casefold() in folded:
        return _failed("system_prompt")
    if policy.rules and _shingles(text) & _shingles(policy.rules):
        return _failed("system_prompt")
    for secret in policy.secrets:
        if secret and len(secret) >= 8 and secret in text:
            return _failed("secret")
    if _SECRET_SHAPES.search(text):
        return _failed("secret")
    if _CPF.search(text):
        return _failed("personal_data")
    known = {_digits(p)[-8:] for p in policy.own_phones if len(_digits(p)) >= 8}
    known |= {_digits(p)[-8:] for p in _PHONE.findall(policy.facts)}
    for candidate in _PHONE.findall(text):
        digits = _digits(candidate)
        if len(digits) >= 10 and digits[-8:] not in known:
            return _failed("personal_data")
    allowed_emails = {e.casefold() for e in _EMAIL.findall(policy.facts)}
    emails = {e.casefold() for e in _EMAIL.findall(text)}
    if emails - allowed_emails:
        return _failed("personal_data")
    domains = {d.lower().strip(".") for d in policy.allowed_domains if d} | _domains_in(
        policy.facts
    )
    text_without_emails = _EMAIL.sub(" ", text)
    for host in _domains_in(text_without_emails):
        if not _host_allowed(host, domains):
            return _failed("link")
    problem = promise_problem(_EMAIL.sub(" ", _URL.sub(" ", text)), policy.facts)
    if problem:
        return _failed(problem)
    return OutputVerdict(True)


def _failed(reason: str) -> OutputVerdict:
    BLOCKED.labels(side="output", reason=reason).inc()
    return OutputVerdict(False, reason)
