from django.core.management.base import BaseCommand

from chatbots.models import Chatbot


class Command(BaseCommand):
    help = "List chatbots and the numbers they are bound to (secrets are never printed)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="", help="only this tenant's bots (slug)")

    def handle(self, *args, tenant, **options):
        qs = Chatbot.objects.select_related("tenant").order_by("tenant__slug", "pk")
        if tenant:
            qs = qs.filter(tenant__slug=tenant)
        self.stdout.write("id\ttenant\tprovider\tphone_number_id\tdisplay\tactive\tsecrets\tname")
        for bot in qs:
            secrets = "token+secret" if bot.access_token and bot.app_secret else "incomplete"
            if bot.provider != "meta":
                secrets = "-"
            self.stdout.write(
                f"{bot.pk}\t{bot.tenant.slug}\t{bot.provider}\t{bot.phone_number_id or '-'}\t"
                f"{bot.display_number or '-'}\t{'yes' if bot.active else 'no'}\t{secrets}\t{bot.name}"
            )
