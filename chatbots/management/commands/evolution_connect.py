"""Pair an Evolution API bot with its phone: instance, webhook, QR code."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from chatbots import bots
from chatbots.models import Chatbot
from chatbots.providers import evolution, evolution_instance
from chatbots.providers.base import ProviderError, chatbot_secrets
from chatbots.qrtext import QRImageError, decode_data_url, qr_text_from_png


def webhook_url(chatbot: Chatbot) -> str:
    path = reverse("chatbots-webhook-evolution", kwargs={"bot_id": chatbot.pk})
    return settings.SITE_URL.rstrip("/") + path


def webhook_target(chatbot: Chatbot) -> tuple[str, dict[str, str], bool]:
    """The URL and headers Evolution should call us with, and whether the bot's webhook
    secret had to be created (and saved) for it. Also used by the staff app's connection
    page (staff.connection_views)."""
    stored = chatbot_secrets(chatbot)
    url = webhook_url(chatbot)
    if stored.get("jwt_key"):
        # Evolution then sends a fresh HS256 JWT (Authorization: Bearer) instead.
        return url, {"jwt_key": stored["jwt_key"]}, False
    secret = stored.get("webhook_secret")
    generated = not secret
    if generated:
        secret = secrets.token_urlsafe(32)
        bots.chatbot_update(chatbot=chatbot, provider_secrets={**stored, "webhook_secret": secret})
    if evolution_instance.api_version(chatbot) == 1:
        # v1.8 webhooks take no headers: the secret can only travel in the URL.
        return f"{url}?{evolution.SECRET_QUERY}={secret}", {}, generated
    return url, {evolution.SECRET_HEADER: secret}, generated


class Command(BaseCommand):
    help = (
        "Connect an Evolution API bot: create its instance if needed, point the instance's "
        "webhook at this server (SITE_URL) with the bot's secret header, and print the QR "
        "code to read with WhatsApp on the phone (Aparelhos conectados > Conectar aparelho)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bot", type=int, required=True, help="Chatbot id (list_bindings).")
        parser.add_argument(
            "--number",
            default="",
            help="The bot's phone number, to also get a pairing code to type on the phone.",
        )
        parser.add_argument(
            "--invert",
            action="store_true",
            help="Draw the QR code's dark modules (for terminals with a light background).",
        )

    def handle(self, *args, bot, number, invert, **options):
        chatbot = Chatbot.objects.filter(pk=bot).first()
        if chatbot is None:
            raise CommandError(f"No chatbot with id {bot}. See list_bindings.")
        if chatbot.provider != evolution.PROVIDER:
            raise CommandError(
                f"Chatbot {bot} uses the provider {chatbot.provider!r}, not 'evolution'. "
                "Change its provider first."
            )
        try:
            self._connect(chatbot, number=number, invert=invert)
        except ProviderError as exc:
            raise CommandError(f"Evolution refused: {exc.code}: {exc.detail}") from None

    def _connect(self, chatbot: Chatbot, *, number: str, invert: bool) -> None:
        name = evolution_instance.instance_name(chatbot)
        state = evolution_instance.instance_state(chatbot=chatbot)
        if state is None:
            evolution_instance.instance_create(chatbot=chatbot)
            self.stdout.write(f"instance {name!r} created")
            state = evolution_instance.instance_state(chatbot=chatbot) or "close"
        else:
            self.stdout.write(f"instance {name!r} exists (state: {state})")

        url, headers, generated = webhook_target(chatbot)
        if generated:
            self.stdout.write("webhook_secret generated and saved on the bot")
        evolution_instance.webhook_set(chatbot=chatbot, url=url, headers=headers)
        shown = url.split("?", 1)[0]
        self.stdout.write(f"webhook set to {shown} (messages.upsert, authenticated)")
        if "127.0.0.1" in url or "localhost" in url:
            self.stdout.write(
                self.style.WARNING(
                    "SITE_URL points at this machine: Evolution must run here too, or set "
                    "SITE_URL to this server's public address and run again."
                )
            )

        if state == "open":
            self.stdout.write(self.style.SUCCESS("already connected: nothing to pair"))
            return
        answer = evolution_instance.instance_connect(chatbot=chatbot, number=number)
        instance = answer.get("instance") if isinstance(answer.get("instance"), dict) else {}
        if instance.get("state") == "open":
            self.stdout.write(self.style.SUCCESS("already connected: nothing to pair"))
            return
        self._print_qr(chatbot, answer, invert=invert)

    def _print_qr(self, chatbot: Chatbot, answer: dict, *, invert: bool) -> None:
        pairing = answer.get("pairingCode")
        if pairing:
            self.stdout.write(
                f"pairing code: {pairing}  (WhatsApp > Aparelhos conectados > Conectar com "
                "número de telefone)"
            )
        drawn = False
        if answer.get("base64"):
            try:
                self.stdout.write(
                    qr_text_from_png(decode_data_url(answer["base64"]), invert=invert)
                )
                drawn = True
            except QRImageError as exc:
                self.stdout.write(self.style.WARNING(f"could not draw the QR image: {exc}"))
        if answer.get("code"):
            self.stdout.write(f"QR code content: {answer['code']}")
            if not drawn:
                self.stdout.write(
                    "Draw it with any QR tool, e.g.: qrencode -t ANSIUTF8 '<content above>', "
                    "or open the instance in the Evolution manager."
                )
        if not (pairing or answer.get("base64") or answer.get("code")):
            raise CommandError(f"Evolution gave no QR code: {answer}")
        self.stdout.write(
            "Scan it with WhatsApp on the bot's phone (Aparelhos conectados > Conectar "
            "aparelho); the code expires in about a minute: run again for a new one. Then "
            f"check with: manage.py evolution_status --bot {chatbot.pk}"
        )
