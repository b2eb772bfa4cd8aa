from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Conta e planos")

    def ready(self) -> None:
        from billing import metering, quotas
        from chatbots import outbox

        # The outbox asks the subscription before every send and reports every message the
        # provider accepted, without importing billing (chatbots.outbox.gates).
        outbox.register_gate(quotas.subscription_gate, stage=outbox.SEND)
        outbox.register_on_sent(metering.count_sent)
