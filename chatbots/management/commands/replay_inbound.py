from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from chatbots import inbound
from chatbots.models import InboundEvent


class Command(BaseCommand):
    help = (
        "Re-queue stored inbound events that failed or were never processed "
        "(pending for more than --older-than seconds)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=60)
        parser.add_argument("--include-failed", action="store_true", default=True)
        parser.add_argument("--id", type=int, action="append", default=[], help="only these ids")

    def handle(self, *args, older_than, include_failed, id, **options):
        if id:
            ids = id
        else:
            cutoff = timezone.now() - timedelta(seconds=older_than)
            states = [InboundEvent.State.PENDING] + (
                [InboundEvent.State.FAILED] if include_failed else []
            )
            ids = list(
                InboundEvent.objects.filter(state__in=states, received_at__lt=cutoff).values_list(
                    "pk", flat=True
                )
            )
        count = inbound.requeue(event_ids=ids) if ids else 0
        self.stdout.write(f"re-queued {count} inbound event(s)")
