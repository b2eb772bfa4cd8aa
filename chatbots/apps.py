from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatbotsConfig(AppConfig):
    name = "chatbots"
    verbose_name = _("Chatbots")

    def ready(self):
        # Registers the start-up checks of handler modules and saved steps (chatbots.checks).
        from chatbots import checks  # noqa: F401
