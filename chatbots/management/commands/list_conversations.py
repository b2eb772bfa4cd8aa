from django.core.management.base import BaseCommand, CommandError

from chatbots.models import Conversation
from clientes.phones import mask_phone


class Command(BaseCommand):
    help = "List a tenant's most recent conversations (phone numbers masked)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--status", default="", help="bot, waiting, human or closed")
        parser.add_argument("--limit", type=int, default=50)

    def handle(self, *args, tenant, status, limit, **options):
        qs = (
            Conversation.objects.filter(tenant__slug=tenant)
            .select_related("cliente", "chatbot")
            .order_by("-updated_at")
        )
        if status:
            if status not in Conversation.Status.values:
                raise CommandError(
                    f"Unknown status {status!r}: {', '.join(Conversation.Status.values)}"
                )
            qs = qs.filter(status=status)
        self.stdout.write("id\tbot\tcustomer\tphone\tstatus\tstep\tlast customer message")
        for c in qs[:limit]:
            self.stdout.write(
                f"{c.pk}\t{c.chatbot.name}\t{c.cliente.nome or '-'}\t{mask_phone(c.cliente.telefone)}\t"
                f"{c.status}\t{c.current_step or '-'}\t{c.last_customer_message_at or '-'}"
            )
