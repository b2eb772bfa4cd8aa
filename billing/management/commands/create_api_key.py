from django.core.management.base import BaseCommand, CommandError

from billing.models import Tenant
from billing.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it once (it is stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--name", required=True, help="a label, e.g. the integration's name")

    def handle(self, *args, tenant, name, **options):
        obj = Tenant.objects.filter(slug=tenant).first()
        if obj is None:
            raise CommandError(f"No tenant with slug {tenant!r}. Create it with create_tenant.")
        api_key, key = api_key_create(tenant=obj, name=name)
        self.stdout.write(
            f"API key {api_key.prefix} for {obj.slug} ({name}). Keep it now; it is not shown again:"
        )
        self.stdout.write(key)
