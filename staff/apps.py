from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    name = "staff"
    verbose_name = _("Atendimento")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from compliance import retention
        from staff.models import ChatMessage

        # The internal chat talks about customers too: its messages go at the age the
        # tenant keeps message texts.
        retention.text_source_register(
            retention.TextSource(
                kind="staff_chat",
                queryset=ChatMessage.objects.all,
                apply=lambda rows: rows.delete()[0],
            )
        )
