"""Campaign sends against the fake Graph API: Meta's tier, opt-outs, the ledger."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from campaigns import services, stats
from campaigns.models import Campaign, CampaignRecipient
from campaigns.tests.conftest import MONDAY_TEN, customers
from compliance import consent
from compliance.models import ConsentEvent


def test_a_tier_of_1000_sends_1000_now_and_the_rest_in_the_next_window(
    tenant, bot, promo, run, clock, fake_graph
):
    # A number upgraded to 1,000 messages/s: the governor lets the window's batch through.
    bot.messages_per_second = 1000
    bot.save(update_fields=["messages_per_second"])
    everyone = customers(tenant, 2000)
    opted_out = customers(tenant, 5, start=5000)
    for c in opted_out:
        consent.consent_opt_out(cliente=c, source=ConsentEvent.Source.KEYWORD, actor="test")
    campaign = services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Maio",
        variants=[{"template": promo, "params": [{"field": "primeiro_nome"}]}],
    )
    assert services.campaign_estimate(campaign=campaign).customers == 2000

    first = run(lambda: services.campaign_start(campaign=campaign), clock, sender=True)

    assert len(first) == 1000
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.WAITING
    assert campaign.next_run_at == MONDAY_TEN + timedelta(hours=24)

    clock.shift(timedelta(hours=23))
    assert run(_due_and_run, clock, sender=True) == []

    clock.shift(timedelta(hours=1, minutes=1))
    second = run(_due_and_run, clock, sender=True)

    assert len(second) == 1000
    sent_to = Counter(first + second)
    assert set(sent_to) == {f"+{c.telefone}" for c in everyone}
    assert max(sent_to.values()) == 1
    assert not {f"+{c.telefone}" for c in opted_out} & set(sent_to)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    numbers = stats.campaign_numbers(campaign=campaign)
    assert numbers["sent"] == len(fake_graph.sends) == 2000
    assert numbers["progress"] == 100


def _due_and_run():
    from campaigns import tasks

    tasks.bulk_campaigns_due()


def test_a_customer_who_opts_out_after_the_start_gets_nothing(tenant, bot, promo, run):
    stays, leaves = customers(tenant, 2)
    campaign = services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Maio",
        variants=[{"template": promo, "params": [{"value": "20%"}]}],
    )

    def start_then_opt_out():
        services.campaign_start(campaign=campaign)
        consent.consent_opt_out(cliente=leaves, source=ConsentEvent.Source.KEYWORD, actor="t")

    sent = run(start_then_opt_out)

    assert sent == [f"+{stays.telefone}"]
    numbers = stats.campaign_numbers(campaign=campaign)
    assert numbers["opted_out"] == 1
    assert numbers["skipped_by_reason"] == {"opted_out": 1}


def test_a_crash_mid_batch_leaves_the_customer_pending_and_the_rerun_sends_once(
    tenant, bot, promo, run, monkeypatch
):
    customers(tenant, 3)
    campaign = services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Maio",
        variants=[{"template": promo, "params": [{"value": "x"}]}],
    )
    real = services.outbox.send_to_customers

    def dies_after_queueing(**kwargs):
        rows = real(**kwargs)  # the batch's outbox rows are written, the ledger's not yet
        assert len(rows) == 3
        raise SystemExit("worker killed")

    monkeypatch.setattr(services.outbox, "send_to_customers", dies_after_queueing)
    with pytest.raises(SystemExit):
        run(lambda: services.campaign_start(campaign=campaign))
    assert CampaignRecipient.objects.filter(status="pending").count() == 3

    monkeypatch.setattr(services.outbox, "send_to_customers", real)
    sent = run(lambda: services.campaign_run(campaign_id=campaign.pk))

    assert sorted(sent) == sorted(set(sent)) and len(sent) == 3


def test_a_running_campaign_whose_task_was_lost_is_restarted_by_the_periodic_run(
    tenant, bot, promo, run, clock, monkeypatch
):
    customers(tenant, 3)
    campaign = services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Maio",
        variants=[{"template": promo, "params": [{"value": "x"}]}],
    )
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)  # the task is lost
    services.campaign_start(campaign=campaign)
    monkeypatch.undo()

    clock.shift(timedelta(minutes=5))
    assert run(_due_and_run, clock, sender=True) == []  # not yet: it may just be slow
    clock.shift(timedelta(minutes=6))
    assert len(run(_due_and_run, clock)) == 3
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
