from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    name = "staff"
    verbose_name = _("Atendimento")
    default_auto_field = "django.db.models.BigAutoField"
