from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrações")

    def ready(self) -> None:
        from agenda import services as agenda_services
        from chatbots import outbox
        from compliance import consent, retention
        from inbox import events as inbox_events
        from integrations import hooks
        from integrations.models import WebhookDelivery
        from pedidos import services as pedidos_services

        # Every app below sits lower in the layers than this one: they call these hooks
        # (in the change's transaction; the events wait for its commit).
        outbox.register_on_stored(hooks.messages_stored)
        outbox.register_on_status(hooks.status_changed)
        inbox_events.ticket_hook_register(hooks.ticket_lifecycle)
        pedidos_services.pedido_event_hook_register(hooks.pedido_event)
        agenda_services.agendamento_event_hook_register(hooks.agendamento_event)
        consent.consent_hook_register(hooks.consent_changed)
        # The delivery log holds what customers wrote: gone at the age the tenant keeps
        # message texts (LGPD retention), if that comes before WEBHOOK_EVENTS_KEEP_DAYS.
        retention.text_source_register(
            retention.TextSource(
                kind="integrations_delivery",
                queryset=lambda: WebhookDelivery.objects.exclude(
                    status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.SENDING]
                ),
                apply=lambda rows: rows.delete()[1].get("integrations.WebhookDelivery", 0),
            )
        )
