"""`manage.py restore_db PATH`: replace a database with a file backup_db wrote, after its sha256."""

from django.core.management.base import BaseCommand, CommandError

from wetech.ops.backups import (
    BackupError,
    BackupInProgress,
    backup_checksum_verify,
    backup_describe,
    backup_restore,
)

from .backup_db import EXIT_LOCKED


class Command(BaseCommand):
    help = "Restore a backup written by backup_db (its .sha256 must match) over a database."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The backup file (its .sha256 must sit beside it).")
        parser.add_argument("--database", default="default", help="Database alias to overwrite.")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )

    def handle(self, *args, path, database, interactive, **options):
        try:
            backup_checksum_verify(path=path)
        except BackupError as exc:
            raise CommandError(f"restore_db refused: {exc}") from exc
        if interactive and not self._confirmed(path, database):
            raise CommandError("restore_db cancelled: nothing was changed")
        try:
            backup_restore(path=path, alias=database)
        except BackupInProgress as exc:
            raise CommandError(f"restore_db refused: {exc}", returncode=EXIT_LOCKED) from exc
        except BackupError as exc:
            raise CommandError(f"restore_db failed: {exc}") from exc
        self.stdout.write(f"restored {database} from {path}")

    def _confirmed(self, path, database) -> bool:
        created = backup_describe(path=path).get("created", "an unknown time")
        self.stdout.write(
            f"This replaces ALL data in database {database!r} with the backup taken at "
            f"{created} ({path})."
        )
        try:
            answer = input("Type 'yes' to continue: ")
        except EOFError:
            # No terminal (cron, a pipe): never restore without an explicit --noinput.
            return False
        return answer.strip().lower() == "yes"
