from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config import backups


class Command(BaseCommand):
    help = (
        "Restore a backup archive into an EMPTY database (--database-url for PostgreSQL, "
        "--sqlite-path for the embedded mode) and check every table's row count."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("--database-url", default="", help="an empty PostgreSQL database")
        parser.add_argument("--sqlite-path", default="", help="a new SQLite file")
        parser.add_argument("--media-root", default="", help="where to put the media files")

    def handle(self, *args, **options):
        try:
            restored = backups.backup_restore(
                Path(options["archive"]),
                database_url=options["database_url"],
                sqlite_path=Path(options["sqlite_path"]) if options["sqlite_path"] else None,
                media_root=Path(options["media_root"]) if options["media_root"] else None,
            )
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restored {restored.tables} tables, {restored.rows} rows (counts checked), "
            f"{restored.media_files} media files"
        )
