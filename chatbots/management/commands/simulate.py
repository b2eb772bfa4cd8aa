from django.core.management.base import BaseCommand, CommandError

from chatbots.models import Chatbot
from chatbots.simulator import simulate_message
from clientes.phones import InvalidPhone


class Command(BaseCommand):
    help = 'Send a customer message to a bot through the real pipeline and print the replies: simulate --bot 1 --phone 5511987654321 "oi"'

    def add_arguments(self, parser):
        parser.add_argument("--bot", type=int, required=True)
        parser.add_argument("--phone", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--reply-id", default="", help="simulate a tap on a button/list row with this id"
        )
        parser.add_argument(
            "--deliver",
            action="store_true",
            help="really send the replies through the bot's provider (default only for stub bots)",
        )
        parser.add_argument("text", nargs="?", default="")

    def handle(self, *args, bot, phone, name, reply_id, deliver, text, **options):
        chatbot = Chatbot.objects.select_related("tenant").filter(pk=bot).first()
        if chatbot is None:
            raise CommandError(f"No chatbot with id {bot}. See list_bindings.")
        if not text and not reply_id:
            raise CommandError("Give the message text (or --reply-id).")
        try:
            replies = simulate_message(
                chatbot=chatbot,
                phone=phone,
                text=text,
                reply_id=reply_id,
                name=name,
                deliver=deliver,
            )
        except InvalidPhone as exc:
            raise CommandError(str(exc)) from None
        if not replies:
            self.stdout.write("(no reply: the bot stays quiet, e.g. a person is attending)")
        for msg in replies:
            self.stdout.write(f"--- bot [{msg.type}, {msg.status}]")
            self.stdout.write(msg.text)
