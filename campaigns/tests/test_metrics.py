"""campaign_messages_total in /metrics: sent, skipped and failed campaign messages."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from campaigns import services
from campaigns.tests.conftest import customers

TOKEN = "m" * 40


def _scraped(client, status: str) -> float:
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "campaign_messages_total" and sample.labels == {"status": status}:
                return sample.value
    return 0.0


def _counted(status: str) -> float:
    return REGISTRY.get_sample_value("campaign_messages_total", {"status": status}) or 0.0


def test_sent_and_failed_campaign_messages_are_counted_in_the_metrics(
    tenant, bot, promo, run, clock, fake_graph, client, settings, monkeypatch
):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # this process's registry
    settings.METRICS_TOKEN = TOKEN
    customers(tenant, 3)
    before = {s: _counted(s) for s in ("sent", "failed")}
    # 131026: the number cannot receive the message (Meta's error codes page): fails for good.
    fake_graph.fail_next(code=131026, times=1)
    campaign = services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Maio",
        variants=[{"template": promo, "params": [{"field": "primeiro_nome"}]}],
    )

    run(lambda: services.campaign_start(campaign=campaign), clock)

    assert _scraped(client, "sent") - before["sent"] == 3
    assert _scraped(client, "failed") - before["failed"] == 1
