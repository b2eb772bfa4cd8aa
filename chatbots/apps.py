from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatbotsConfig(AppConfig):
    name = "chatbots"
    verbose_name = _("Chatbots")

    def ready(self):
        # Registers the start-up checks of handler modules, interceptors and saved steps
        # (chatbots.checks).
        # Connects the signals that drop the webhook's cached bot routes on any bot change.
        from billing import metering, quotas
        from billing.models import LimitKind
        from chatbots import (
            account_events,
            checks,  # noqa: F401
            inbound,
            outbox,
            processor,
            routing,  # noqa: F401
            selectors,
            tasks,  # noqa: F401
        )

        # Stored webhook events wake the processor (manage.py run_processor); the messaging
        # core (chatbots.inbound) only knows the function it was given.
        inbound.register_dispatcher(processor.dispatch)
        # The outbox asks the subscription before every send and reports every message the
        # provider accepted (chatbots.outbox.gates); billing, the layer below, never imports
        # chatbots, so the wiring is here. Billing limits bots per plan but counts them
        # through chatbots too.
        outbox.register_gate(
            quotas.subscription_gate, stage=outbox.SEND, many=quotas.subscription_gate_many
        )
        outbox.register_on_sent(metering.count_sent, many=metering.count_sent_many)
        # A restricted or banned WhatsApp account starts no conversation of its own.
        outbox.register_gate(account_events.proactive_gate, stage=outbox.QUEUE)
        quotas.seat_counter_register(LimitKind.CHATBOTS, selectors.chatbot_count)
        # Voice notes of a tenant with the assistant are transcribed once media stored them.
        from chatbots.ai import transcribe
        from media import services as media_services

        media_services.register_on_file_stored(transcribe.attachment_stored)
        # A campaign's per-customer parameters written by the assistant (campaigns.params).
        from campaigns import params as campaign_params
        from chatbots.ai import suggest

        campaign_params.assistant_register(suggest.campaign_suggestion)
        # Evolution hands a customer's file by its message id (decrypted on its side).
        from chatbots.providers import evolution_instance

        media_services.register_fetcher("evolution", evolution_instance.media_fetch)
