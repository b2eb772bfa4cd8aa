"""A variant's template parameters for one customer.

Each parameter is one of:
* `{"value": "text"}`: the same for everyone;
* `{"field": "nome" | "primeiro_nome" | "telefone"}`: from the customer's record;
* `{"suggest": "top_product"}`: a suggestion from the tenant's own data. Without the
  assistant this is the product the customer ordered most (by quantity), else `fallback`.
"""

from __future__ import annotations

from django.db.models import Sum
from django.utils.translation import gettext as _

from chatbots.models import Chatbot, MessageTemplate
from clientes.models import Cliente
from pedidos.models import ItemPedido

FIELDS = {
    "nome": lambda c: c.nome,
    "primeiro_nome": lambda c: (c.nome or "").split(" ")[0],
    "telefone": lambda c: c.telefone,
}


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


def param_problems(spec: list) -> list[str]:
    problems = []
    for i, item in enumerate(spec, start=1):
        if not isinstance(item, dict) or not ({"value", "field", "suggest"} & item.keys()):
            problems.append(f"parâmetro {i}: use value, field ou suggest")
        elif "field" in item and item["field"] not in FIELDS:
            problems.append(f"parâmetro {i}: campo desconhecido {item['field']!r}")
        elif "suggest" in item and item["suggest"] != "top_product":
            problems.append(f"parâmetro {i}: sugestão desconhecida {item['suggest']!r}")
    return problems


def params_for(spec: list, cliente: Cliente) -> list[str]:
    values = []
    for item in spec:
        if "value" in item:
            value = str(item["value"])
        elif "field" in item:
            value = FIELDS[item["field"]](cliente)
        else:
            value = top_product(cliente)
        values.append(value or str(item.get("fallback", "")) or "-")
    return values
