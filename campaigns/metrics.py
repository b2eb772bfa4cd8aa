"""Campaign counters for Prometheus: what became of each campaign message.

`campaign_messages_total{status}`: sent (queued to the provider), skipped (not sent: the
customer opted out, no approved template, outside the number's limits; campaigns.services
records the reason), failed (sent, then refused by the provider for good). Counted in the
process that does it (the bulk worker, the sender), scraped through config/process_metrics.
"""

from __future__ import annotations

from prometheus_client import Counter

from campaigns.models import CampaignRecipient
from chatbots.models import Message

MESSAGES = Counter(
    "campaign_messages_total",
    "Campaign messages by outcome: sent, skipped (not sent, with a reason), failed "
    "(refused by the provider after it was sent)",
    ["status"],
)


def batch_counted(recipients) -> None:
    """A batch's recipients, after campaigns.services decided each one."""
    sent = sum(1 for r in recipients if r.status == CampaignRecipient.Status.SENT)
    skipped = sum(1 for r in recipients if r.status == CampaignRecipient.Status.SKIPPED)
    if sent:
        MESSAGES.labels(status="sent").inc(sent)
    if skipped:
        MESSAGES.labels(status="skipped").inc(skipped)


def status_changed(*, status: str, message_id=None, external_id: str = "", tenant_id=None, **_):
    """chatbots.outbox watcher: a campaign's message failed for good. Failures are rare, so
    the one indexed lookup happens only then."""
    if status != Message.Status.FAILED:
        return
    recipients = CampaignRecipient.objects.filter(tenant_id=tenant_id)
    if message_id:
        recipients = recipients.filter(message_id=message_id)
    elif external_id:
        recipients = recipients.filter(message__provider_message_id=external_id)
    else:
        return
    if recipients.exists():
        MESSAGES.labels(status="failed").inc()
