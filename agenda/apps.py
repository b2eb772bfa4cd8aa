from django.apps import AppConfig
from django.db.models.signals import pre_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_btree_gist(sender, using, **kwargs) -> None:
    """The no-overlap exclusion constraint compares `tenant_id` with `=` inside a GiST index,
    which needs the btree_gist extension. Migration 0001 creates it with BtreeGistExtension;
    this covers databases built from the models without migrations (tests' --nomigrations).
    """
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")


class AgendaConfig(AppConfig):
    name = "agenda"
    verbose_name = _("Agenda")

    def ready(self) -> None:
        pre_migrate.connect(_ensure_btree_gist, sender=self, dispatch_uid="agenda_btree_gist")
        from agenda import services, waitlist

        # A cancelled or moved appointment offers its time to the waiting list.
        services.agendamento_event_hook_register(waitlist.agendamento_event)
