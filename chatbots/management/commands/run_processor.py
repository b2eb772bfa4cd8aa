"""`manage.py run_processor`: the long-running consumer of inbound events (chatbots.processor).

Run one or more per deployment (Procfile `processor`); they share the work per contact.
"""

from django.core.management.base import BaseCommand

from chatbots import processor
from config import process_metrics


class Command(BaseCommand):
    help = (
        "Process stored inbound events (customers' messages, statuses) in batches until "
        "stopped (SIGTERM/Ctrl-C end after the current batch)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", type=int, default=None, help="events per transaction (PROCESSOR_BATCH)"
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=None,
            help="seconds between looks when nobody wakes it (PROCESSOR_POLL_SECONDS)",
        )
        parser.add_argument(
            "--once", action="store_true", help="drain what is ready now, then exit"
        )

    def handle(self, *args, batch, poll, once, **options):
        if once:
            turns = processor.drain_all(batch=batch)
            self.stdout.write(f"{turns} turns answered")
            return
        process_metrics.lower_priority()
        consumer = processor.Consumer(batch=batch, poll=poll)
        consumer.install_signals()
        # Its counters on METRICS_PORT (a container of its own), or the web adds them up.
        process_metrics.serve("processor")
        # "ready." is what launchers and the benchmarks wait for, as with a Celery worker.
        self.stdout.write(f"processor ready. batch={consumer.batch} poll={consumer.poll}s")
        self.stdout.flush()
        consumer.run()
        self.stdout.write("processor stopped")
