from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = _("Atendimento humano")

    def ready(self) -> None:
        from chatbots import outbox
        from compliance import retention
        from inbox import events
        from inbox.models import Note

        # The outbox sits below the inbox in the layers: it calls these when it stores a
        # message or a provider moves one's status (chatbots.outbox.watch).
        outbox.register_on_stored(events.messages_stored)
        outbox.register_on_status(events.status_changed)
        # Internal notes are what staff wrote about a customer: blanked at the age the
        # tenant keeps message texts (the ticket still shows a note was written, and when).
        retention.text_source_register(
            retention.TextSource(
                kind="inbox_note",
                queryset=lambda: Note.objects.exclude(text=""),
                apply=lambda rows: rows.update(text=""),
            )
        )
