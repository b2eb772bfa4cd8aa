"""Prompt-injection guard, in front of the model and behind it.

In front (`screen_input`): the customer's text is cleaned (control and invisible characters
stripped, a length limit) and screened for known attacks in pt-BR, en and es: instruction
override, role change, system-prompt extraction, exfiltration of other customers' data,
delimiter tricks (fake system/role markers) and encodings that hide any of these (base64,
hex, rot13, leetspeak, letters spaced out, homoglyphs, reversed text). A blocked message
never reaches the model: the customer gets a neutral answer and a metric is counted.

The screen is a first line, not the only one: the customer's text only ever goes to the
model as user content (never into the system instruction), the instruction tells the model
to treat it as a customer's question, and whatever the model says is checked before it is
sent (`check_output`): no system-instruction text, no secrets, no other customer's data, no
link outside the tenant's allowlist, nothing WhatsApp would refuse. A failing answer is
replaced by a safe fallback, with a metric.

The corpus in tests/ai_corpus/ measures both sides (chatbots/tests/test_ai_guard.py).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from prometheus_client import Counter

# Customers ask short questions; long messages are where instructions hide. WhatsApp allows
# 4096 characters in a text (chatbots.wire.TEXT_MAX); we stop well before that.
MAX_INPUT_CHARS = 1200
# The answer must fit in an interactive body (1024, Meta "interactive" object) so it can
# carry the "go to the order flow" / "talk to a person" buttons.
MAX_ANSWER_CHARS = 1024

BLOCKED = Counter(
    "chatbot_ai_guard_blocked_total",
    "Messages stopped by the prompt-injection guard; side: input or output",
    ["side", "reason"],
)


@dataclass(frozen=True)
class InputVerdict:
    allowed: bool
    text: str  # the cleaned text: what may go to the model as user content
    reason: str = ""  # why it was blocked: override, role, extraction, exfiltration, ...


@dataclass(frozen=True)
class OutputPolicy:
    """What an answer may contain, for one customer of one tenant."""

    rules: str = ""  # the fixed instruction text (not the business facts, which may be quoted)
    canary: str = ""  # a marker only the system instruction holds
    facts: str = ""  # the business facts given to the model (their phones/links are fine)
    own_phones: Iterable[str] = ()  # the customer's own numbers and the business's
    allowed_domains: Iterable[str] = ()
    secrets: Iterable[str] = ()


@dataclass(frozen=True)
class OutputVerdict:
    ok: bool
    reason: str = ""


# --- Cleaning ----------------------------------------------------------------------------

# Letters that look Latin but are not (Cyrillic, Greek): "іgnоrе" must read "ignore".
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
        "ј": "j", "ѕ": "s", "к": "k", "м": "m", "т": "t", "н": "h", "в": "b", "г": "r",
        "α": "a", "ε": "e", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "ι": "i", "κ": "k",
        "ν": "v", "χ": "x", "η": "n",
    }
)  # fmt: skip
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "i", "+": "t"})  # fmt: skip


def clean(text: str) -> str:
    """NFKC, control and invisible characters removed (newlines and tabs kept)."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\n\t":
            kept.append(ch)
        elif category in ("Cc", "Cf", "Co", "Cs", "Cn"):
            continue  # controls, zero-width and bidi marks, private use
        else:
            kept.append(ch)
    return "".join(kept).strip()


def _fold_keep_spaces(text: str) -> str:
    """casefold, no accents, homoglyphs mapped."""
    text = unicodedata.normalize("NFKD", text.casefold().translate(_CONFUSABLES))
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Mn", "Me", "Cf"))


def _fold(text: str) -> str:
    """_fold_keep_spaces, spaces collapsed (newlines kept)."""
    return re.sub(r"[ \t\u00a0]+", " ", _fold_keep_spaces(text))


_SPACED = re.compile(r"^(?:\w[ .\-_*/]){3,}\w$")
# Attacks written without spaces or spaced out letter by letter, looked for in the text
# reduced to its letters. Only phrases no ordinary message runs together.
SQUASHED = (
    "ignoreallprevious",
    "ignorepreviousinstructions",
    "ignoreallinstructions",
    "ignoreyourinstructions",
    "disregardallprevious",
    "forgetallprevious",
    "systemprompt",
    "promptdosistema",
    "ignoretodasasinstrucoes",
    "ignoreasinstrucoes",
    "ignoresuasinstrucoes",
    "esquecaasinstrucoes",
    "esquecatodasasinstrucoes",
    "esquecasuasinstrucoes",
    "esquecaasregras",
    "ignoraasregras",
    "ignoratodaslasinstrucciones",
    "ignoralasinstrucciones",
    "olvidatusinstrucciones",
    "instruccionesdelsistema",
    "developermode",
    "mododesenvolvedor",
    "mododesarrollador",
    "jailbreak",
)
_B64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[\s:]?){10,}")
_PCT = re.compile(r"(?:%[0-9a-fA-F]{2}){4,}")


def _printable(raw: bytes) -> str:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    letters = sum(ch.isalpha() or ch.isspace() for ch in decoded)
    return decoded if decoded and letters / len(decoded) > 0.7 else ""


def _decoded(text: str) -> list[str]:
    """Hidden texts: base64, hex and percent-encoded segments decoded, rot13 when named."""
    found = []
    for segment in _B64.findall(text):
        padded = segment + "=" * (-len(segment) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                plain = _printable(decode(padded))
            except (binascii.Error, ValueError):
                continue
            if plain:
                found.append(plain)
                break
    for segment in _HEX.findall(text):
        try:
            plain = _printable(bytes.fromhex(re.sub(r"[\s:]", "", segment)))
        except ValueError:
            continue
        if plain:
            found.append(plain)
    for segment in _PCT.findall(text):
        found.append(unquote(segment))
    if re.search(r"rot ?13|cesar|caesar", text, re.IGNORECASE):
        found.append(codecs.decode(text, "rot13"))
    return found


def _views(text: str) -> list[str]:
    """The ways the same text can be read: plain, leet, spaced letters joined, reversed,
    and whatever it hides in encodings (each folded)."""
    base = _fold(text)
    # "i g n o r e   a l l": letters spaced out, words apart by wider gaps.
    chunks = re.split(r"\s{2,}", _fold_keep_spaces(text))
    joined = " ".join(
        re.sub(r"[ .\-_*/]", "", c) if _SPACED.match(c.strip()) else c for c in chunks
    )
    views = [base, base.translate(_LEET), joined, joined.translate(_LEET), base[::-1]]
    for hidden in _decoded(text):
        folded = _fold(hidden)
        views += [folded, folded.translate(_LEET)]
    return views


# --- Attack patterns (on folded text: lower case, no accents) -----------------------------

_GAP = r"[^.?!\n]{0,40}?"  # a few words between the verb and its object, within a sentence

_INSTRUCTIONS_EN = r"(?:instruction|instructions|rules|prompt|prompts|guidelines|directives|constraints|policies|programming|system message|context)"  # noqa: E501
_INSTRUCTIONS_PT = r"(?:instrucoes|instrucao|regras|ordens|orientacoes|diretrizes|prompt|comandos|restricoes|programacao|configuracoes)"  # noqa: E501
_INSTRUCTIONS_ES = r"(?:instrucciones|instruccion|reglas|ordenes|indicaciones|directrices|prompt|restricciones|programacion)"  # noqa: E501
_CUSTOMERS = r"(?:clientes|usuarios|consumidores|contatos|customers|clients|users|people|contactos|compradores|pacientes)"  # noqa: E501
_DATA = r"(?:telefones?|numeros?|celular(?:es)?|whats(?:app)?|enderecos?|e-?mails?|dados|pedidos|nomes?|contatos?|cpfs?|mensagens|conversas|historicos?|informacoes|phones?|numbers?|address(?:es)?|orders|data|names?|contacts?|details|info|messages|telefonos?|direcciones|correos|datos|nombres|contactos)"  # noqa: E501

_OTHERS = r"(?:outros|outras|todos os|todas as|demais|other|another|all|all the|every|otros|otras|todos los|todas las|demas|ultimos|ultimo|ultima|anteriores|previous|last)"  # noqa: E501
_HAND_OVER = r"(?:me passa|me passe|passa|manda|mande|envia|envie|mostra|mostre|exporta|exporte|baixa|compartilha|give|send|show|export|dump|share|dame|muestra|envia|enviame|comparte)"  # noqa: E501
_TALK = r"(?:responda|responde|responder|fale|fala|aja|atue|modo|voce|vc|ia|bot|assistente|answer|respond|reply|talk|act|mode|you|contesta|habla|actua|eres)"  # noqa: E501

PATTERNS: dict[str, list[re.Pattern]] = {
    "override": [
        re.compile(
            rf"\b(?:ignore|ignoring|disregard|forget|override|bypass|skip|drop|abandon)\b{_GAP}\b(?:previous|prior|above|earlier|all|any|your|the|these|those|system|original)\b{_GAP}{_INSTRUCTIONS_EN}\b"  # noqa: E501
        ),
        re.compile(
            rf"\b(?:ignore|ignora|ignorar|esqueca|esquece|esquecer|desconsidere|desconsidera|desconsiderar|descarte|descarta|abandone|despreze|pule|anule|apague)\b{_GAP}\b{_INSTRUCTIONS_PT}\b"  # noqa: E501
        ),
        re.compile(
            rf"\b(?:ignora|ignore|ignorar|olvida|olvide|olvidar|omite|omitir|descarta|desatiende|anula)\b{_GAP}\b{_INSTRUCTIONS_ES}\b"  # noqa: E501
        ),
        re.compile(
            r"\b(?:new|updated|real|actual) (?:instructions|system prompt)\b"
            r"|\b(?:novas instrucoes|nova instrucao|novas diretrizes|novo prompt)\b"
            r"|\b(?:nuevas instrucciones|nueva instruccion|nuevas directrices|nuevo prompt)\b"
        ),
        re.compile(
            r"\b(?:from now on|starting now|henceforth),? (?:you|act|answer|respond|reply|ignore)\b"
            r"|\ba partir de agora,? (?:voce|tu|vc|responda|responde|fale|diga|aja|ignore|deve|"
            r"obedeca)\b"
            r"|\b(?:de ahora en adelante|a partir de ahora),? (?:eres|seras|debes|responde|"
            r"responderas|actua|actuaras|ignora|tu)\b"
        ),
    ],
    "role": [
        re.compile(
            r"\byou are (?:now|no longer|not an?|free)\b|\byou(?:'re| are) (?:a|an) (?:unrestricted|"
            r"jailbroken|uncensored|evil)\b"
            r"|\b(?:act|acting|behave) as\b|\bpretend (?:to be|you are|you're)\b"
            r"|\broleplay\b|\brole-play\b|\bplay the role\b"
        ),
        re.compile(
            r"\b(?:voce agora e|agora voce e|agora tu es|agora vc e|voce nao e mais|voce e agora)\b"
            r"|\b(?:finja|finge|fingir|simule|simula) (?:ser|que (?:voce|vc|e))\b"
            r"|\b(?:aja|atue|comporte-se|se comporte|haja|responda) como (?:se fosse|um|uma|o|a)\b"
            r"|\b(?:interprete|assuma|faca) o papel\b|\bfaca de conta\b"
        ),
        re.compile(
            r"\b(?:ahora eres|ahora tu eres|ya no eres|eres ahora)\b"
            r"|\b(?:actua|actue|comportate|responde) como (?:si fueras|un|una|el|la)\b"
            r"|\b(?:finge|fingir|simula) (?:ser|que eres)\b|\bhaz de cuenta\b"
        ),
        re.compile(
            r"\b(?:developer|dev|debug|god|admin|administrator|root|sudo|unrestricted|jailbreak|dan)"
            r" mode\b"
            r"|\bmodo (?:desenvolvedor|dev|debug|deus|admin|administrador|root|irrestrito|dan|"
            r"sem restricoes|sem filtro|desarrollador|dios|sin restricciones|sin filtros)\b"
            r"|\bjailbreak|\bdo anything now\b|\bdan,? (?:you|voce|tu)\b"
            rf"|\b{_TALK}\b[^.?!\n]{{0,30}}\b(?:sem|without|no|sin) (?:nenhuma |qualquer |any |"
            r"ninguna )?(?:restricao|restricoes|filtro|filtros|censura|limites|restrictions|"
            r"filters|censorship|limits|rules|regras|restriccion|restricciones|reglas)\b"
        ),
    ],
    "extraction": [
        re.compile(
            r"\b(?:system|initial|hidden|original|developer|secret|internal) (?:prompt|"
            r"instructions)\b|\bsystem message\b"
            r"|\bprompt (?:do|de|del) (?:sistema|sistem)\b"
            r"|\b(?:instrucoes|regras|mensagem) (?:do|de) sistema\b"
            r"|\b(?:instrucoes|diretrizes) (?:iniciais|originais|ocultas|secretas|internas)\b"
            r"|\bregras (?:ocultas|secretas)\b"
            r"|\b(?:instrucciones|reglas|mensaje) (?:del|de) sistema\b"
            r"|\b(?:instrucciones|directrices) (?:iniciales|originales|ocultas|secretas|internas)\b"
        ),
        re.compile(
            r"\b(?:reveal|show|print|repeat|display|output|tell me|give me|list|dump|leak|share|"
            r"write|copy|paste|recite|spell)\b[^.?!\n]{0,30}\b(?:your|the|my|all) (?:prompt|"
            r"instructions|guidelines|system|configuration|initial)"
            r"|\bwhat (?:are|were) your (?:instructions|rules|guidelines)\b"
            r"|\b(?:repeat|print|show|copy|output|write|paste)\b[^.?!\n]{0,20}\b(?:text|everything|"
            r"words|messages?) (?:above|before this)\b|\bverbatim\b"
        ),
        re.compile(
            r"\b(?:mostre|mostra|mostrar|revele|revela|revelar|repita|repete|repetir|imprima|"
            r"imprime|diga|diz|fala|me de|me da|me passe|me passa|copie|copia|cole|escreva|"
            r"escreve|liste|lista|exiba|exibe|conte|conta|transcreva|envie|manda)\b"
            r"[^.?!\n]{0,30}\b(?:(?:suas|seu|teu|tuas|o seu|as suas|o teu|as tuas) (?:instrucoes|"
            r"prompt|diretrizes|regras internas|regras ocultas|configuracoes|configuracao|"
            r"programacao)|(?:o|seu|teu) prompt)\b"
            r"|\b(?:quais|qual) (?:sao |e )?(?:as |o )?(?:suas|seu|tuas|teu) (?:instrucoes|prompt|"
            r"diretrizes|regras internas|programacao)\b"
            r"|\b(?:repita|repete|mostre|mostra|copie|copia|imprima|escreva|cole)\b[^.?!\n]{0,20}"
            r"\b(?:texto|mensagem|tudo) (?:acima|anterior|que (?:esta|veio) antes)\b"
            r"|\bpalavra por palavra\b|\bcomo (?:voce|vc) foi (?:programad[oa]|configurad[oa])\b"
        ),
        re.compile(
            r"\b(?:muestra|muestrame|revela|revelame|repite|dime|imprime|ensename|escribe|"
            r"copia|lista|comparte)\b[^.?!\n]{0,30}\b(?:tus|tu) (?:instrucciones|"
            r"prompt|directrices|reglas internas|configuracion)\b"
            r"|\bcuales son tus (?:instrucciones|reglas|directrices)\b"
            r"|\b(?:repite|muestra|copia|imprime|escribe)\b[^.?!\n]{0,20}\b(?:texto|mensaje|todo "
            r"lo) (?:de arriba|anterior)\b|\bpalabra por palabra\b"
        ),
    ],
    "exfiltration": [
        re.compile(
            rf"\b{_DATA}\b[^.?!\n]{{0,25}}?\b(?:de|dos|das|do|da|of|de los|de las|del|from)\s"
            rf"(?:\w+\s){{0,2}}?{_OTHERS}\s(?:\w+\s)?{_CUSTOMERS}\b"
        ),
        re.compile(
            rf"\b(?:other|another|all|every|previous|the last)\s(?:\w+\s)?(?:customers?|clients?|"
            rf"users?)(?:'s|')?\s(?:\w+\s)?{_DATA}\b"
        ),
        re.compile(
            rf"(?:\b{_HAND_OVER}\b[^.?!\n]{{0,20}}|\b(?:quero|preciso|necesito|i want|i need)\s"
            r"(?:de |d[ao] |[ao] |la |el |the )?)\b(?:lista|listagem|base|planilha|relatorio|"
            r"cadastro|list|database|dump|export|spreadsheet)\b[^.?!\n]{0,12}\b(?:de|dos|com|of|"
            r"with|del|con)\s(?:\w+\s){0,2}(?:clientes|usuarios|contatos|pacientes|customers|"
            r"clients|users|contactos)\b"
            rf"|\b{_DATA}\b[^.?!\n]{{0,20}}\b(?:do|da|of the|del|de la) (?:cliente|pessoa|customer|"
            r"client|paciente|persona) (?:anterior|de antes|que (?:pediu|veio|ligou|mandou mensagem)"
            r" antes|before me|antes de mim)"
        ),
        re.compile(
            rf"\b(?:{_HAND_OVER}|acesse|acessa|consulte|consulta|query|access|what(?:'s| is) in|o que "
            r"(?:tem|ha) (?:no|na))\b[^.?!\n]{0,30}\b(?:banco de dados|base de datos|database)\b"
            r"|\b(?:banco de dados|database|base de datos) (?:de|dos|of|with|del|con) (?:\w+ )?"
            r"(?:clientes|customers|usuarios|users|pacientes)\b"
        ),
        re.compile(
            r"\b(?:select \* from|drop table|"
            r"api[ _-]?key|chave (?:da|de) api|access token|token de acesso|secret key|"
            r"chave secreta|variaveis de ambiente|environment variables|env vars?|"
            r"credenciais|credentials|credenciales|senha (?:do|de|da) (?:sistema|admin|"
            r"administrador|banco|servidor|painel)|admin password|contrasena del (?:sistema|"
            r"administrador))\b|(?:^|\s)\.env\b"
        ),
    ],
    "delimiter": [
        re.compile(
            r"<\|?\s*(?:im_start|im_end|system|endoftext|assistant|user)\s*\|?>"
            r"|</?\s*(?:system|sys|instructions?|prompt|assistant|user|developer|context)\s*>"
            r"|\[/?(?:inst|system|sys|admin)\]|<<\s*/?sys\s*>>"
        ),
        re.compile(
            r"(?:^|\n)\s*(?:#{2,}|={3,}|-{3,}|\*{3,}|>{3,}|`{3,})\s*(?:system|sistema|sys|"
            r"instruc|instruction|new|nova|nuevo|nueva|end|fim|fin|admin|developer)"
        ),
        re.compile(
            r"\n\s*(?:system|sistema|assistant|assistente|asistente|developer|desenvolvedor)\s*:"
            r"|^\s*(?:system|sistema|assistant|assistente|asistente|developer|desenvolvedor)\s*:"
            r"\s*(?:you|voce|vc|tu|ignore|the user|o usuario|o cliente|el usuario|new|nova|novo|"
            r"nueva|a partir|from now)"
            r"|\b(?:begin|end) (?:of )?(?:system|prompt|instructions)\b"
            r"|\b(?:fim|final|inicio) (?:do|das) (?:prompt|instrucoes)\b"
            r"|\bfin (?:del|de las) (?:prompt|instrucciones)\b"
        ),
    ],
    "encoding": [
        re.compile(
            r"\b(?:decode|decodifique|decodifica|decodificar|descodifica|traduza|traduce|"
            r"translate|converta|convert|interprete)\b[^.?!\n]{0,40}\b(?:base ?64|hex|"
            r"hexadecimal|rot ?13|binario|binary|morse)\b"
            r"|\b(?:base ?64|rot ?13|hexadecimal)\b[^.?!\n]{0,40}\b(?:execute|executa|follow|"
            r"obey|siga|segue|obedeca|cumpra|sigue|obedece|ejecuta|faca|faz|haz|do it)\b"
        ),
    ],
}


def screen_input(text: str) -> InputVerdict:
    """Clean `text` and decide whether it may reach the model."""
    cleaned = clean(text)
    if len(cleaned) > MAX_INPUT_CHARS:
        return _blocked(cleaned[:MAX_INPUT_CHARS], "too_long")
    views = _views(cleaned)
    for view in views:
        for reason, patterns in PATTERNS.items():
            if any(p.search(view) for p in patterns):
                return _blocked(cleaned, reason)
    for view in views[:2]:  # plain and leet
        letters = re.sub(r"[^a-z]", "", view)
        if any(signature in letters for signature in SQUASHED):
            return _blocked(cleaned, "obfuscated")
    return InputVerdict(True, cleaned)


def _blocked(text: str, reason: str) -> InputVerdict:
    BLOCKED.labels(side="input", reason=reason).inc()
    return InputVerdict(False, text, reason)


# --- Behind the model ---------------------------------------------------------------------

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


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORDS.findall(_fold(text))
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


def check_output(answer: str, policy: OutputPolicy) -> OutputVerdict:
    """Whether the model's `answer` may be sent to this customer."""
    text = (answer or "").strip()
    if not text:
        return _failed("empty")
    if len(text) > MAX_ANSWER_CHARS:
        return _failed("too_long")
    folded = _fold(text)
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
    return OutputVerdict(True)


def _failed(reason: str) -> OutputVerdict:
    BLOCKED.labels(side="output", reason=reason).inc()
    return OutputVerdict(False, reason)


@dataclass
class GuardStats:
    """Block and false-positive rates over a corpus (tests and the note report them)."""

    attacks: int = 0
    attacks_blocked: int = 0
    ordinary: int = 0
    ordinary_blocked: int = 0
    missed: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)

    @property
    def block_rate(self) -> float:
        return self.attacks_blocked / self.attacks if self.attacks else 0.0

    @property
    def false_positive_rate(self) -> float:
        return self.ordinary_blocked / self.ordinary if self.ordinary else 0.0


def measure(*, attacks: Iterable[str], ordinary: Iterable[str]) -> GuardStats:
    stats = GuardStats()
    for text in attacks:
        stats.attacks += 1
        if screen_input(text).allowed:
            stats.missed.append(text)
        else:
            stats.attacks_blocked += 1
    for text in ordinary:
        stats.ordinary += 1
        if screen_input(text).allowed:
            continue
        stats.ordinary_blocked += 1
        stats.false_positives.append(text)
    return stats
