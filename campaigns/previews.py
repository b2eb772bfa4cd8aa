"""What a draft campaign's first customers would read, each with their own parameters
(customer fields, fixed values, the assistant's suggestion from their history): shown by the
staff page, the admin and `GET /api/campaigns/{id}/` before the campaign starts."""

from __future__ import annotations

from dataclasses import dataclass

from campaigns import suggestions
from campaigns.audience import audience_customers
from campaigns.models import Campaign, Variant
from campaigns.params import params_for, split_header
from chatbots import outbox


@dataclass(frozen=True)
class PreviewRow:
    cliente_nome: str
    telefone: str
    variant: Variant
    params: list[str]
    # Assistant values not written yet (the preview task is still running): shown as such.
    pending: bool = False
    # The assistant failed and the fixed fallback stands in.
    fallback: bool = False

    @property
    def text(self) -> str:
        header, values = split_header(self.variant.template, self.params)
        return outbox.template_text(self.variant.template, params=values, header=header)


def campaign_preview(*, campaign: Campaign, limit: int = 5) -> list[PreviewRow]:
    """What the first customers of the audience would receive, each variant in turn, with
    their own parameters (customer fields, the suggestion from their history), before the
    campaign starts."""
    variants = list(campaign.variants.select_related("template").order_by("pk"))
    if not variants:
        return []
    customers = list(
        audience_customers(tenant_id=campaign.tenant_id, definition=campaign.audience)[:limit]
    )
    ids = [c.pk for c in customers]
    suggested = suggestions.suggestions_of(campaign=campaign, cliente_ids=ids)
    fell_back = suggestions.fallbacks_of(campaign=campaign, cliente_ids=ids)
    assistant = suggestions.needs_assistant(campaign)
    rows = []
    for i, c in enumerate(customers):
        variant = variants[i % len(variants)]
        rows.append(
            PreviewRow(
                cliente_nome=c.nome,
                telefone=c.telefone,
                variant=variant,
                params=params_for(variant.params, c, suggested.get(c.pk)),
                pending=assistant and c.pk not in suggested,
                fallback=bool(fell_back.get(c.pk)),
            )
        )
    return rows
