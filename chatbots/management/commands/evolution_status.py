"""Show an Evolution API bot's connection state and webhook, as Evolution has them."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from chatbots.models import Chatbot
from chatbots.providers import evolution, evolution_instance
from chatbots.providers.base import ProviderError


class Command(BaseCommand):
    help = (
        "Print an Evolution bot's instance state (open = connected) and where its webhook "
        "points. Exits with an error when the instance is missing or Evolution refuses."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bot", type=int, required=True, help="Chatbot id (list_bindings).")

    def handle(self, *args, bot, **options):
        chatbot = Chatbot.objects.filter(pk=bot).first()
        if chatbot is None:
            raise CommandError(f"No chatbot with id {bot}. See list_bindings.")
        if chatbot.provider != evolution.PROVIDER:
            raise CommandError(f"Chatbot {bot} uses {chatbot.provider!r}, not 'evolution'.")
        try:
            name = evolution_instance.instance_name(chatbot)
            state = evolution_instance.instance_state(chatbot=chatbot)
            if state is None:
                raise CommandError(
                    f"instance {name!r} does not exist: run evolution_connect --bot {bot}"
                )
            webhook = evolution_instance.webhook_find(chatbot=chatbot)
        except ProviderError as exc:
            raise CommandError(f"Evolution refused: {exc.code}: {exc.detail}") from None
        style = self.style.SUCCESS if state == "open" else self.style.WARNING
        self.stdout.write(style(f"instance {name!r}: {state}"))
        url = str(webhook.get("url") or "").split("?", 1)[0]  # v1 keeps the secret there
        events = webhook.get("events") or []
        headers = webhook.get("headers") if isinstance(webhook.get("headers"), dict) else {}
        if evolution_instance.api_version(chatbot) == 1:
            auth = "secret in the URL" if "?" in str(webhook.get("url") or "") else "none"
        elif "jwt_key" in headers:
            auth = "JWT (jwt_key)"
        elif evolution.SECRET_HEADER in headers:
            auth = f"{evolution.SECRET_HEADER} header"
        else:
            auth = "none"
        self.stdout.write(
            f"webhook: {url or '(not set)'} enabled={bool(webhook.get('enabled'))} "
            f"events={','.join(map(str, events)) or '-'} auth={auth}"
        )
        if not webhook.get("enabled") or "MESSAGES_UPSERT" not in events or auth == "none":
            self.stdout.write(
                self.style.WARNING(
                    f"the bot will not hear customers: run evolution_connect --bot {bot}"
                )
            )
        elif "MESSAGES_UPDATE" not in events:
            self.stdout.write(
                self.style.WARNING(
                    "delivery and read statuses do not reach the bot: run evolution_connect "
                    f"--bot {bot} again"
                )
            )
