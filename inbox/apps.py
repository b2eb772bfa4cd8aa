from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = _("Atendimento humano")

    def ready(self) -> None:
        from chatbots import outbox
        from inbox import events

        # The outbox sits below the inbox in the layers: it calls these when it stores a
        # message or a provider moves one's status (chatbots.outbox.watch).
        outbox.register_on_stored(events.messages_stored)
        outbox.register_on_status(events.status_changed)
