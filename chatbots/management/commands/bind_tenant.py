from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.models import Tenant
from chatbots import bots, starter_flows
from chatbots.models import Chatbot


class Command(BaseCommand):
    help = (
        "Create or update a tenant's chatbot for one WhatsApp number and (optionally) install "
        "a starter flow. Prints the bot id. The bot is matched by --phone-number-id (Meta) "
        "or, without one, by --display-number."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--provider", default="meta", help="meta or stub")
        parser.add_argument("--name", default="", help="bot name (default: the tenant's name)")
        parser.add_argument("--phone-number-id", default="")
        parser.add_argument("--waba-id", default="")
        parser.add_argument("--display-number", default="")
        parser.add_argument("--access-token", default="")
        parser.add_argument("--app-secret", default="")
        parser.add_argument("--verify-token", default="")
        parser.add_argument(
            "--flow", default="", help=f"starter flow: {', '.join(starter_flows.FLOWS)}"
        )

    def handle(self, *args, **o):
        tenant = Tenant.objects.filter(slug=o["tenant"]).first()
        if tenant is None:
            raise CommandError(
                f"No tenant with slug {o['tenant']!r}. Create it with create_tenant."
            )
        if o["provider"] == "meta" and not o["phone_number_id"]:
            raise CommandError("--phone-number-id is required for the meta provider.")
        if o["flow"] and o["flow"] not in starter_flows.FLOWS:
            raise CommandError(
                f"Unknown flow {o['flow']!r}. Available: {', '.join(starter_flows.FLOWS)}."
            )
        fields = {
            "provider": o["provider"],
            "phone_number_id": o["phone_number_id"] or None,
            "waba_id": o["waba_id"],
            "display_number": o["display_number"],
            "access_token": o["access_token"],
            "app_secret": o["app_secret"],
            "verify_token": o["verify_token"],
        }
        lookup = (
            {"phone_number_id": o["phone_number_id"]}
            if o["phone_number_id"]
            else {"tenant": tenant, "display_number": o["display_number"]}
        )
        chatbot = Chatbot.objects.filter(**lookup).first()
        try:
            if chatbot is None:
                chatbot = bots.chatbot_create(
                    tenant=tenant, name=o["name"] or tenant.name, **fields
                )
                verb = "created"
            elif chatbot.tenant_id != tenant.pk:
                raise CommandError(
                    f"Phone number id {o['phone_number_id']} is bound to another tenant's bot."
                )
            else:
                if o["name"]:
                    fields["name"] = o["name"]
                chatbot = bots.chatbot_update(chatbot=chatbot, **fields)
                verb = "updated"
            if o["flow"]:
                steps = starter_flows.flow_install(chatbot=chatbot, flow=o["flow"])
                self.stdout.write(f"installed flow {o['flow']}: {', '.join(s.code for s in steps)}")
                note = starter_flows.flow_prepare(tenant=tenant, flow=o["flow"])
                if note:
                    self.stdout.write(note)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"chatbot {verb}: id {chatbot.pk}")
        self.stdout.write(str(chatbot.pk))
