from django.core.management.base import BaseCommand, CommandError

from chatbots.models import Chatbot, Message
from chatbots.outbox import send_to_customer, sending
from chatbots.wire import Text
from clientes.phones import InvalidPhone, normalize_phone
from clientes.services import cliente_upsert_from_whatsapp


class Command(BaseCommand):
    help = (
        "Send a text message from a bot to a number, now, and print the outcome. Outside the "
        "24-hour window WhatsApp only accepts templates, so the send is refused and says so."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bot", type=int, required=True)
        parser.add_argument("--to", required=True)
        parser.add_argument("--text", required=True)

    def handle(self, *args, bot, to, text, **options):
        chatbot = Chatbot.objects.select_related("tenant").filter(pk=bot).first()
        if chatbot is None:
            raise CommandError(f"No chatbot with id {bot}. See list_bindings.")
        try:
            phone = normalize_phone(to)
        except InvalidPhone as exc:
            raise CommandError(str(exc)) from None
        cliente = cliente_upsert_from_whatsapp(tenant=chatbot.tenant, wa_id=phone)
        message = send_to_customer(chatbot=chatbot, cliente=cliente, message=Text(body=text))
        if message.status == Message.Status.QUEUED:
            sending.send_pending(message.conversation_id)
            message.refresh_from_db()
        detail = f" {message.error_code}: {message.error_detail}" if message.error_code else ""
        self.stdout.write(f"message {message.pk}: {message.status}{detail}")
        if message.provider_message_id:
            self.stdout.write(f"provider id: {message.provider_message_id}")
