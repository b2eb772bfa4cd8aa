"""A campaign variant's template parameters as rows on the staff form, one per placeholder of
the chosen template (campaigns.params.slot_labels: the header's, then the body's): each row's
source is a customer field, a fixed text, the product the customer ordered most, or the
assistant's suggestion with its instruction. The rows read back into the `params` list that
`POST /api/campaigns/` takes (campaigns.params), each row's error at the row."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.params import FIELDS, INSTRUCTION_MAX, slot_labels
from chatbots.models import MessageTemplate

SOURCES = [
    ("field", gettext_lazy("Campo do cliente")),
    ("value", gettext_lazy("Texto fixo")),
    ("suggest", gettext_lazy("Produto que o cliente mais pede")),
    ("assistant", gettext_lazy("Sugestão do assistente")),
]
FIELD_LABELS = {
    "primeiro_nome": gettext_lazy("Primeiro nome"),
    "nome": gettext_lazy("Nome completo"),
    "telefone": gettext_lazy("Telefone"),
}


@dataclass
class ParamRow:
    index: int
    slot: str  # "{{1}}", "cabeçalho {{1}}"
    source: str = "field"
    field: str = "primeiro_nome"
    value: str = ""
    instruction: str = ""
    fallback: str = ""
    errors: list[str] = dc_field(default_factory=list)

    def spec(self) -> dict:
        if self.source == "field":
            return {"field": self.field}
        if self.source == "value":
            return {"value": self.value}
        if self.source == "suggest":
            return {"suggest": "top_product", "fallback": self.fallback or "-"}
        return {"assistant": self.instruction, "fallback": self.fallback}

    def check(self) -> None:
        if self.source not in dict(SOURCES):
            self.errors.append(_("Escolha de onde vem o valor."))
        elif self.source == "field" and self.field not in FIELDS:
            self.errors.append(_("Escolha um campo do cliente."))
        elif self.source == "value" and not self.value.strip():
            self.errors.append(_("Escreva o texto."))
        elif self.source == "assistant":
            if not self.instruction.strip():
                self.errors.append(_("Diga o que o assistente deve sugerir."))
            elif len(self.instruction) > INSTRUCTION_MAX:
                self.errors.append(
                    _("A instrução passa de %(n)d caracteres.") % {"n": INSTRUCTION_MAX}
                )
            if not self.fallback.strip():
                self.errors.append(_("Informe o texto usado quando o assistente não responde."))


@dataclass
class ParamRows:
    """The rows of one variant (`prefix` "a" or "b") for `template`, read from `data`."""

    prefix: str
    template: MessageTemplate | None
    rows: list[ParamRow] = dc_field(default_factory=list)

    @classmethod
    def read(cls, prefix: str, template: MessageTemplate | None, data) -> ParamRows:
        rows = []
        for i, slot in enumerate(slot_labels(template) if template else []):
            key = f"{prefix}-{i}-"
            row = ParamRow(index=i, slot=slot)
            for name in ("source", "field", "value", "instruction", "fallback"):
                if (value := (data or {}).get(key + name)) is not None:
                    setattr(row, name, str(value))
            rows.append(row)
        return cls(prefix=prefix, template=template, rows=rows)

    def check(self) -> bool:
        for row in self.rows:
            row.check()
        return not any(row.errors for row in self.rows)

    def specs(self) -> list[dict]:
        return [row.spec() for row in self.rows]

    def context(self) -> dict:
        return {
            "prefix": self.prefix,
            "rows": self.rows,
            "template": self.template,
            "sources": SOURCES,
            "fields": list(FIELD_LABELS.items()),
        }
