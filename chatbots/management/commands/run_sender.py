"""`python manage.py run_sender`: the outbox's long-running sender (chatbots.outbox.sender).

Run it next to the web processes (the Procfile's `sender:` line). Several may run, on one
machine or many: they claim different conversations. SIGTERM or SIGINT (Ctrl-C) lets the
round in progress finish and record its outcomes before the process ends.
"""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from chatbots.outbox.sender import Sender
from config import process_metrics


class Command(BaseCommand):
    help = (
        "Send the queued outbound messages in batches, until SIGTERM "
        "(settings SENDER_BATCH, SENDER_THREADS, SENDER_POLL_SECONDS)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=None, help="rows per claim")
        parser.add_argument("--threads", type=int, default=None, help="sends at once")
        parser.add_argument("--poll", type=float, default=None, help="seconds between looks")
        parser.add_argument(
            "--once", action="store_true", help="one round (claim, send, record), then exit"
        )

    def handle(self, *args, batch, threads, poll, once, **options):
        sender = Sender(batch=batch, threads=threads, poll=poll)
        if once:
            try:
                claimed = sender.run_once()
            finally:
                sender.close()
            self.stdout.write(f"sent a round of {claimed} message(s)")
            return

        process_metrics.lower_priority()

        def stop(signum, _frame):
            sender.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        # Its counters on METRICS_PORT (a container of its own), or the web adds them up.
        process_metrics.serve("sender")
        sender.run()
