from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatbotsConfig(AppConfig):
    name = "chatbots"
    verbose_name = _("Chatbots")

    def ready(self):
        # Registers the start-up checks of handler modules and saved steps (chatbots.checks).
        # Connects the signals that drop the webhook's cached bot routes on any bot change.
        from billing import quotas
        from billing.models import LimitKind
        from chatbots import (
            checks,  # noqa: F401
            routing,  # noqa: F401
            selectors,
        )

        # Billing limits bots per plan but counts them through chatbots (it sits below).
        quotas.seat_counter_register(LimitKind.CHATBOTS, selectors.chatbot_count)
