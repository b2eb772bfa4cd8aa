"""A campaign's numbers, read from the ledger and the outbox's rows (never kept twice).

Replied: the customer wrote in that conversation after the campaign's message. Orders: an
order of the customer within 24 hours of it. Read and delivered: the message's status
timestamps from Meta's status webhooks.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q

from billing.template_costs import country_of, rate_for
from campaigns import ab
from campaigns.models import Campaign, CampaignRecipient, Variant
from chatbots.models import Message
from pedidos.models import Pedido

ORDER_WINDOW = timedelta(hours=24)


def _replied() -> Exists:
    return Exists(
        Message.objects.filter(
            conversation_id=OuterRef("message__conversation_id"),
            direction=Message.Direction.IN,
            created_at__gt=OuterRef("sent_at"),
        )
    )


def _ordered() -> Exists:
    return Exists(
        Pedido.objects.filter(
            cliente_id=OuterRef("cliente_id"),
            criado_em__gt=OuterRef("sent_at"),
            criado_em__lte=OuterRef("sent_at") + ORDER_WINDOW,
        )
    )


def _goal(goal: str) -> Q:
    if goal == Campaign.Goal.READ:
        return Q(message__read_at__isnull=False)
    return Q(_ordered()) if goal == Campaign.Goal.ORDER else Q(_replied())


def arms(*, campaign: Campaign, variants: list[Variant]) -> list[ab.Arm]:
    """Each variant's sends and successes on the campaign's goal (one query)."""
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign, status=CampaignRecipient.Status.SENT)
        .values("variant_id")
        .annotate(sent=Count("pk"), ok=Count("pk", filter=_goal(campaign.goal)))
        .order_by()
    )
    by_variant = {r["variant_id"]: r for r in rows}
    return [
        ab.Arm(
            key=v.pk,
            sent=by_variant.get(v.pk, {}).get("sent", 0),
            successes=by_variant.get(v.pk, {}).get("ok", 0),
        )
        for v in variants
    ]


def campaign_numbers(*, campaign: Campaign) -> dict:
    """The counts the admin, the staff app and the API show."""
    qs = CampaignRecipient.objects.filter(campaign=campaign)
    sent = Q(status=CampaignRecipient.Status.SENT)
    totals = qs.aggregate(
        total=Count("pk"),
        pending=Count("pk", filter=Q(status=CampaignRecipient.Status.PENDING)),
        sent=Count("pk", filter=sent & ~Q(message__status=Message.Status.FAILED)),
        delivered=Count("pk", filter=sent & Q(message__delivered_at__isnull=False)),
        read=Count("pk", filter=sent & Q(message__read_at__isnull=False)),
        replied=Count("pk", filter=sent & Q(_replied())),
        orders=Count("pk", filter=sent & Q(_ordered())),
        failed=Count("pk", filter=sent & Q(message__status=Message.Status.FAILED)),
        skipped=Count("pk", filter=Q(status=CampaignRecipient.Status.SKIPPED)),
    )
    totals["opted_out"] = qs.filter(
        status=CampaignRecipient.Status.SKIPPED, reason="opted_out"
    ).count()
    totals["failed_by_code"] = dict(
        qs.filter(sent, message__status=Message.Status.FAILED)
        .values_list("message__error_code")
        .annotate(n=Count("pk"))
        .order_by()
    )
    totals["skipped_by_reason"] = dict(
        qs.filter(status=CampaignRecipient.Status.SKIPPED)
        .values_list("reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    done = totals["total"] - totals["pending"]
    totals["progress"] = round(100 * done / totals["total"]) if totals["total"] else 0
    return totals


def ab_results(*, campaign: Campaign) -> list[dict]:
    """Per variant: sends, successes on the goal, rate, and the confidence that the leader's
    lead over it is real (campaigns.ab.confidence)."""
    variants = list(campaign.variants.select_related("template").order_by("pk"))
    arms_ = arms(campaign=campaign, variants=variants)
    leader = max(arms_, key=lambda a: a.rate) if arms_ else None
    return [
        {
            "variant": v.label,
            "template": v.template.name,
            "sent": a.sent,
            "successes": a.successes,
            "rate": round(a.rate, 4),
            "winner": v.winner,
            "confidence": None if a is leader else round(ab.confidence(leader, a), 4),
        }
        for v, a in zip(variants, arms_, strict=True)
    ]


def campaign_costs(*, campaign: Campaign) -> list[dict]:
    """Per template category: the estimate (every customer still to go or gone, at Meta's
    rate for their country) and the actual cost (templates Meta delivered: Meta charges per
    delivered template, https://developers.facebook.com/docs/whatsapp/pricing), in R$."""
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign)
        .exclude(status=CampaignRecipient.Status.SKIPPED)
        .values_list(
            "variant__template__category",
            "cliente__telefone",
            "status",
            "message__delivered_at",
            "message__read_at",
        )
    )
    fallback = (
        campaign.variants.order_by("pk").values_list("template__category", flat=True).first()
        or "MARKETING"
    )
    out: dict[str, dict] = {}
    for category, phone, status, delivered, read in rows:
        category = category or fallback
        rate = rate_for(category=category, country=country_of(phone))
        entry = out.setdefault(
            category, {"category": category, "estimated": Decimal("0"), "actual": Decimal("0")}
        )
        entry["estimated"] += rate
        if status == CampaignRecipient.Status.SENT and (delivered or read):
            entry["actual"] += rate
    return sorted(out.values(), key=lambda e: e["category"])


CSV_HEADER = [
    "telefone",
    "nome",
    "variante",
    "modelo",
    "situacao",
    "motivo",
    "enviada_em",
    "status_meta",
    "codigo_erro",
    "entregue_em",
    "lida_em",
]


def campaign_csv(*, campaign: Campaign) -> str:
    """One line per customer of the campaign, for a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign)
        .select_related("cliente", "variant__template", "message")
        .order_by("pk")
    )
    for r in rows.iterator(chunk_size=1000):
        m = r.message
        writer.writerow(
            [
                r.cliente.telefone,
                r.cliente.nome,
                r.variant.label if r.variant else "",
                r.variant.template.name if r.variant else "",
                r.get_status_display(),
                r.reason,
                r.sent_at.isoformat() if r.sent_at else "",
                m.status if m else "",
                m.error_code if m else "",
                m.delivered_at.isoformat() if m and m.delivered_at else "",
                m.read_at.isoformat() if m and m.read_at else "",
            ]
        )
    return buffer.getvalue()
