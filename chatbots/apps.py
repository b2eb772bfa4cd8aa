from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatbotsConfig(AppConfig):
    name = "chatbots"
    verbose_name = _("Chatbots")
