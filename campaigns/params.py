"""A variant's template parameters for one customer.

A variant's `params` list the values in the template's order: the header text's parameter
first (when the template has one), then the body's. Each is one of:
* `{"value": "text"}`: the same for everyone;
* `{"field": "nome" | "primeiro_nome" | "telefone"}`: from the customer's record;
* `{"suggest": "top_product"}`: the product the customer ordered most (by quantity), else
  `fallback`;
* `{"assistant": "instruction", "fallback": "text", "max_length": 60}`: written per customer
  by the assistant from the tenant's own data (the customer's orders, the catalog), at most
  `max_length` characters; `fallback` when the model is off, fails or answers something
  unusable. The values are computed before the campaign sends and kept per customer
  (campaigns.suggestions), so a resumed campaign sends what the preview showed.

The assistant itself is in the conversation layer (chatbots.ai.suggest): it registers with
`assistant_register` from its AppConfig, as the outbox's gates do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Tenant
from chatbots import outbox
from chatbots.models import Chatbot, MessageTemplate
from clientes.models import Cliente
from pedidos.models import ItemPedido

logger = logging.getLogger(__name__)

FIELDS = {
    "nome": lambda c: c.nome,
    "primeiro_nome": lambda c: (c.nome or "").split(" ")[0],
    "telefone": lambda c: c.telefone,
}
SOURCES = ("value", "field", "suggest", "assistant")
INSTRUCTION_MAX = 300
ASSISTANT_DEFAULT_LENGTH = 60
# A template parameter is short text: Meta refuses new lines, tabs and more than four spaces
# in a row (error 132018, https://developers.facebook.com/docs/whatsapp/cloud-api/support/
# error-codes); a product name or a short phrase fits in 200.
ASSISTANT_MAX_LENGTH = 200
HISTORY_ITEMS = 20  # the customer's latest order lines the assistant reads


@dataclass(frozen=True)
class SuggestionRequest:
    """What the assistant gets for one customer: the tenant's instruction, the bound, and
    the customer's order lines (newest first, "dd/mm/aaaa: 2 × Bolo"). The tenant's catalog
    is read by the assistant itself, for this tenant only."""

    tenant: Tenant
    instruction: str
    max_length: int
    history: list[str]


Suggester = Callable[[SuggestionRequest], str]
_suggester: list[Suggester] = []


def assistant_register(suggester: Suggester) -> None:
    """The function that asks the assistant (chatbots.ai.suggest.campaign_suggestion). It
    returns the text or raises; the caller falls back."""
    _suggester[:] = [suggester]


def top_product(cliente: Cliente) -> str:
    row = (
        ItemPedido.objects.filter(pedido__cliente=cliente)
        .values("produto__nome")
        .annotate(total=Sum("quantidade"))
        .order_by("-total", "produto__nome")
        .first()
    )
    return row["produto__nome"] if row else ""


def template_problem(template: MessageTemplate, chatbot: Chatbot) -> str:
    """Why `template` may not be sent by `chatbot` (empty when it may): only the bot's own
    templates that Meta approved (MessageTemplate.approved) go outside the window."""
    if template.chatbot_id != chatbot.pk or not template.approved:
        return _("O modelo %(name)s não está aprovado para este chatbot.") % {"name": template.name}
    return ""


def slot_labels(template: MessageTemplate) -> list[str]:
    """The values `template` takes, in the order of a variant's `params` (pt-BR labels)."""
    header, body = outbox.template_slots(template)
    labels = [_("cabeçalho {{%(name)s}}") % {"name": header}] if header else []
    return labels + [f"{{{{{name}}}}}" for name in body]


def count_problem(template: MessageTemplate, spec: list) -> str:
    """Why `spec` does not fit `template` (empty when it does): one value per placeholder
    of the header and the body, as Meta refuses any other count."""
    expected = slot_labels(template)
    if len(spec) == len(expected):
        return ""
    return _("O modelo %(name)s tem %(n)d parâmetro(s) (%(slots)s), mas foram dados %(given)d.") % {
        "name": template.name,
        "n": len(expected),
        "slots": ", ".join(expected) or _("nenhum"),
        "given": len(spec),
    }


def param_problems(spec: list) -> list[str]:
    problems = []
    for i, item in enumerate(spec, start=1):
        if not isinstance(item, dict) or not (set(SOURCES) & item.keys()):
            problems.append(f"parâmetro {i}: use value, field, suggest ou assistant")
        elif "field" in item and item["field"] not in FIELDS:
            problems.append(f"parâmetro {i}: campo desconhecido {item['field']!r}")
        elif "suggest" in item and item["suggest"] != "top_product":
            problems.append(f"parâmetro {i}: sugestão desconhecida {item['suggest']!r}")
        elif "assistant" in item:
            problems += _assistant_problems(i, item)
    return problems


def _assistant_problems(i: int, item: dict) -> list[str]:
    problems = []
    instruction = item["assistant"]
    if not isinstance(instruction, str) or not instruction.strip():
        problems.append(f"parâmetro {i}: escreva em assistant o que o assistente deve sugerir")
    elif len(instruction) > INSTRUCTION_MAX:
        problems.append(f"parâmetro {i}: a instrução passa de {INSTRUCTION_MAX} caracteres")
    if not str(item.get("fallback") or "").strip():
        problems.append(
            f"parâmetro {i}: informe fallback, o valor usado quando o assistente não responde"
        )
    limit = item.get("max_length", ASSISTANT_DEFAULT_LENGTH)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 200:
        problems.append(f"parâmetro {i}: max_length deve ser um número de 1 a 200")
    return problems


def assistant_items(specs: list[list]) -> list[dict]:
    """The distinct assistant parameters of some variants' specs (one call per customer each)."""
    seen: dict[str, dict] = {}
    for spec in specs:
        for item in spec:
            if isinstance(item, dict) and "assistant" in item:
                seen.setdefault(item["assistant"], item)
    return list(seen.values())


def order_history(cliente: Cliente) -> list[str]:
    rows = (
        ItemPedido.objects.filter(pedido__cliente=cliente)
        .select_related("produto", "pedido")
        .order_by("-pedido__criado_em", "-pk")[:HISTORY_ITEMS]
    )
    return [
        f"{timezone.localtime(r.pedido.criado_em):%d/%m/%Y}: {r.quantidade} × {r.produto.nome}"
        for r in rows
    ]


def _bounded(text: str, limit: int) -> str:
    """One line, at most `limit` characters, cut at a word when longer."""
    text = re.sub(r"\s+", " ", str(text or "")).strip().strip('"“”')
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:-")


def assistant_value(*, tenant: Tenant, cliente: Cliente, item: dict) -> tuple[str, bool]:
    """The assistant's value for `cliente` (text, True) or the item's fallback (text, False)."""
    fallback = _bounded(item.get("fallback") or "", ASSISTANT_MAX_LENGTH) or "-"
    limit = int(item.get("max_length") or ASSISTANT_DEFAULT_LENGTH)
    if not _suggester:
        return fallback, False
    request = SuggestionRequest(
        tenant=tenant,
        instruction=item["assistant"],
        max_length=limit,
        history=order_history(cliente),
    )
    try:
        text = _bounded(_suggester[0](request), limit)
    except Exception:  # any failure of the model call means the fixed value
        logger.warning("campaign suggestion failed; the fallback goes", exc_info=True)
        return fallback, False
    return (text, True) if text else (fallback, False)


def params_for(spec: list, cliente: Cliente, suggested: dict[str, str] | None = None) -> list[str]:
    """The values for `cliente`, in order; an assistant parameter takes the value computed
    before the send (`suggested`, by instruction) or its fallback."""
    values = []
    for item in spec:
        if "value" in item:
            value = str(item["value"])
        elif "field" in item:
            value = FIELDS[item["field"]](cliente)
        elif "assistant" in item:
            value = (suggested or {}).get(item["assistant"], "")
        else:
            value = top_product(cliente)
        values.append(value or str(item.get("fallback", "")) or "-")
    return values


def split_header(template: MessageTemplate, values: list[str]) -> tuple[str, list[str]]:
    """(the header's value, the body's values) of a variant's values."""
    header, _body = outbox.template_slots(template)
    if header and values:
        return values[0], values[1:]
    return "", values
