"""A/B tests: traffic moves to the variant customers answer, which is kept as the winner."""

from __future__ import annotations

import random
from datetime import timedelta

from campaigns import services, stats
from campaigns.models import CampaignRecipient
from campaigns.tests.conftest import customers
from chatbots.models import Message
from tests.factories import MessageTemplateFactory


def test_the_variant_customers_reply_to_three_times_as_often_wins(tenant, bot, promo, clock):
    other = MessageTemplateFactory(chatbot=bot, name="promo_b", param_count=1)
    customers(tenant, 400)
    campaign = services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Teste A/B",
        variants=[
            {"template": promo, "params": [{"value": "10%"}], "label": "A"},
            {"template": other, "params": [{"value": "10%"}], "label": "B"},
        ],
    )
    a, b = campaign.variants.order_by("pk")
    bot.messaging_limit_tier = "TIER_UNLIMITED"
    bot.save(update_fields=["messaging_limit_tier"])
    services.campaign_start(campaign=campaign)
    chance = {b.pk: 0.6, a.pk: 0.2}  # B's customers answer three times as often
    customers_rng, split_rng = random.Random(3), random.Random(5)

    for _round in range(20):
        before = set(CampaignRecipient.objects.filter(status="sent").values_list("pk", flat=True))
        services.campaign_run(campaign_id=campaign.pk, batch=20, max_batches=1, rng=split_rng)
        clock.shift(timedelta(minutes=5))
        fresh = CampaignRecipient.objects.filter(status="sent").exclude(pk__in=before)
        for r in fresh.select_related("message"):
            if customers_rng.random() < chance[r.variant_id]:
                Message.objects.create(
                    tenant=tenant,
                    conversation_id=r.message.conversation_id,
                    direction=Message.Direction.IN,
                    status=Message.Status.RECEIVED,
                    text="Quero!",
                )

    later = CampaignRecipient.objects.filter(status="sent").order_by("pk")[200:]
    assert sum(r.variant_id == b.pk for r in later) > 0.8 * len(later)
    results = {row["variant"]: row for row in stats.ab_results(campaign=campaign)}
    assert results["B"]["winner"] is True and results["A"]["winner"] is False
    assert results["A"]["confidence"] >= 0.95
    assert results["B"]["rate"] > 2 * results["A"]["rate"]
