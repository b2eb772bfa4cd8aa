from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediaConfig(AppConfig):
    name = "media"
    verbose_name = _("Arquivos das conversas")

    def ready(self) -> None:
        from chatbots import outbox
        from media import intake

        # The outbox sits below this app in the layers: it calls the hook whenever messages
        # are stored, and the hook only queues the download (the reply path never waits).
        outbox.register_on_stored(intake.messages_stored)
