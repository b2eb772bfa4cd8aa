import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from config.celery import app
from config.schedule import OWNER_PREFIX, SCHEDULE


class Command(BaseCommand):
    help = "Write the beat schedule declared in config/schedule.py (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        app.loader.import_default_modules()
        unknown = sorted({e["task"] for e in SCHEDULE.values()} - set(app.tasks))
        if unknown:
            raise CommandError(f"config/schedule.py names tasks that do not exist: {unknown}")
        wanted = set()
        for name, entry in SCHEDULE.items():
            full = OWNER_PREFIX + name
            wanted.add(full)
            defaults = {
                "task": entry["task"],
                "queue": entry.get("queue", "default"),
                "kwargs": json.dumps(entry.get("kwargs", {})),
                "enabled": True,
                "interval": None,
                "crontab": None,
            }
            if entry.get("every"):
                defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
                    every=entry["every"], period=IntervalSchedule.SECONDS
                )
            else:
                defaults["crontab"], _ = CrontabSchedule.objects.get_or_create(
                    timezone="America/Sao_Paulo", **entry["crontab"]
                )
            _, created = PeriodicTask.objects.update_or_create(name=full, defaults=defaults)
            self.stdout.write(f"{'created' if created else 'updated'}: {name}")
        stale = PeriodicTask.objects.filter(name__startswith=OWNER_PREFIX).exclude(name__in=wanted)
        for task in stale:
            self.stdout.write(f"removed: {task.name[len(OWNER_PREFIX) :]}")
        stale.delete()
