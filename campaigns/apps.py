from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campanhas")

    def ready(self) -> None:
        from campaigns import metrics, replies
        from chatbots import outbox

        # A reply to a campaign may open a ticket in the campaign's queue (campaigns.replies).
        outbox.register_on_stored(replies.messages_stored)
        # Campaign messages that fail after they were sent (campaigns.metrics).
        outbox.register_on_status(metrics.status_changed)
