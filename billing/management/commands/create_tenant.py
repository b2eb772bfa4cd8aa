from django.core.management.base import BaseCommand, CommandError

from billing.models import Plan
from billing.services import FIRST_API_KEY_NAME, tenant_create


class Command(BaseCommand):
    help = (
        "Create a tenant (business) with its subscription (a trial when the plan has one), "
        "owner and first API key. Idempotent on --slug (the key is created only the first time)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--plan", help="plan name (default: the basic plan)")
        parser.add_argument("--owner-email")
        parser.add_argument("--time-zone", default="America/Sao_Paulo")
        parser.add_argument("--domain", default="", help="the company's domain (payment webhook)")
        parser.add_argument(
            "--no-api-key", action="store_true", help="do not create the first API key"
        )

    def handle(
        self, *args, slug, name, plan, owner_email, time_zone, domain, no_api_key, **options
    ):
        if plan and not Plan.objects.filter(name=plan).exists():
            names = ", ".join(Plan.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"Unknown plan {plan!r}. Existing plans: {names}.")
        result = tenant_create(
            slug=slug,
            name=name,
            plan_name=plan,
            owner_email=owner_email,
            time_zone=time_zone,
            domain=domain,
            api_key_name=None if no_api_key else FIRST_API_KEY_NAME,
        )
        verb = "created" if result.created else "already existed, updated"
        self.stdout.write(f"Tenant {result.tenant.slug} (id {result.tenant.pk}) {verb}.")
        if result.owner_password:
            self.stdout.write(
                f"Owner {owner_email} can log in at /admin/ with password: {result.owner_password}"
            )
        if result.plain_key:
            self.stdout.write(
                f"API key {result.api_key.prefix} ({FIRST_API_KEY_NAME}). Keep it now; it is not "
                f"shown again:\n{result.plain_key}"
            )
