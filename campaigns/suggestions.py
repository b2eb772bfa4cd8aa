"""The assistant's per-customer parameters of a campaign (`{"assistant": …}`,
campaigns.params), computed before anything is sent and kept (CampaignSuggestion).

* A draft: `suggestions_compute` for the first PREVIEW customers of the audience, so the
  preview shows each one's text (campaigns.tasks.campaign_preview_llm, queued on creation).
* Starting it: the campaign is PREPARING while `campaign_prepare` computes the rest of
  the ledger in chunks (campaigns.tasks.campaign_prepare_llm, on the `llm` queue: model
  calls take seconds and never run in a request nor on the replies queue), then it runs.
  A customer with a stored row is never asked again: a preparation killed midway resumes
  where it was, and every batch reads the same values (`suggestions_of`).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns.audience import audience_customers
from campaigns.models import Campaign, CampaignRecipient, CampaignSuggestion
from campaigns.params import assistant_items, assistant_value
from clientes.models import Cliente

PREVIEW = 5
CHUNK = 20  # customers per pass: the heartbeat (last_batch_at) moves between passes


def campaign_items(campaign: Campaign) -> list[dict]:
    return assistant_items([v.params for v in campaign.variants.all()])


def needs_assistant(campaign: Campaign) -> bool:
    return bool(campaign_items(campaign))


def suggestions_compute(*, campaign: Campaign, clientes: list[Cliente]) -> int:
    """Ask the assistant for the customers without a stored row; return how many rows were
    written. Each row is saved on its own (no transaction spans the model calls)."""
    items = campaign_items(campaign)
    if not items:
        return 0
    have = set(
        CampaignSuggestion.objects.filter(campaign=campaign, cliente__in=clientes).values_list(
            "cliente_id", flat=True
        )
    )
    written = 0
    for cliente in clientes:
        if cliente.pk in have:
            continue
        values, fallbacks = {}, []
        for item in items:
            text, by_model = assistant_value(tenant=campaign.tenant, cliente=cliente, item=item)
            values[item["assistant"]] = text
            if not by_model:
                fallbacks.append(item["assistant"])
        _row, created = CampaignSuggestion.objects.get_or_create(
            campaign=campaign,
            cliente=cliente,
            defaults={"tenant_id": campaign.tenant_id, "values": values, "fallbacks": fallbacks},
        )
        written += int(created)
    return written


def preview_compute(*, campaign_id: int) -> int:
    campaign = Campaign.objects.select_related("tenant").filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.DRAFT:
        return 0
    customers = audience_customers(tenant_id=campaign.tenant_id, definition=campaign.audience)
    return suggestions_compute(campaign=campaign, clientes=list(customers[:PREVIEW]))


def _unprepared(campaign: Campaign):
    stored = CampaignSuggestion.objects.filter(campaign=campaign, cliente_id=OuterRef("pk"))
    in_ledger = CampaignRecipient.objects.filter(
        campaign=campaign, status=CampaignRecipient.Status.PENDING
    ).values("cliente_id")
    return Cliente.objects.filter(pk__in=in_ledger).exclude(Exists(stored)).order_by("pk")


def unprepared(campaign: Campaign) -> bool:
    """Whether pending customers still lack the assistant's values."""
    return needs_assistant(campaign) and _unprepared(campaign).exists()


def campaign_prepare(*, campaign_id: int, chunk: int = CHUNK) -> bool:
    """Compute the values of every pending customer of a PREPARING campaign; True when all
    are there (the caller lets it run), False when it stopped (paused, canceled, gone)."""
    while True:
        campaign = Campaign.objects.select_related("tenant").filter(pk=campaign_id).first()
        if campaign is None or campaign.status != Campaign.Status.PREPARING:
            return False
        Campaign.objects.filter(pk=campaign_id).update(last_batch_at=timezone.now())
        todo = list(_unprepared(campaign)[:chunk])
        if not todo:
            return True
        suggestions_compute(campaign=campaign, clientes=todo)


def suggestions_of(*, campaign: Campaign, cliente_ids: list[int]) -> dict[int, dict[str, str]]:
    rows = CampaignSuggestion.objects.filter(campaign=campaign, cliente_id__in=cliente_ids)
    return {r.cliente_id: r.values for r in rows}


def fallbacks_of(*, campaign: Campaign, cliente_ids: list[int]) -> dict[int, list[str]]:
    rows = CampaignSuggestion.objects.filter(campaign=campaign, cliente_id__in=cliente_ids)
    return {r.cliente_id: r.fallbacks for r in rows}
