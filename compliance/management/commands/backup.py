from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config import backups


class Command(BaseCommand):
    help = (
        "Write a backup archive (database, local media files, manifest with row counts) "
        "into --dir (default DATA_DIR/backups). Secrets are never in it: keep .env apart."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", default="", help="folder for the archive")

    def handle(self, *args, **options):
        directory = Path(options["dir"] or settings.DATA_DIR / "backups")
        try:
            archive = backups.backup_create(directory)
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = backups.manifest_read(archive)
        rows = sum(manifest["tables"].values())
        self.stdout.write(
            f"{archive}: {len(manifest['tables'])} tables, {rows} rows, "
            f"media: {manifest['media']['storage']}"
        )
