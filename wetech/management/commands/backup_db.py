"""`manage.py backup_db`: a checked, hashed backup; exit 0, or non-zero with a one-line reason."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from wetech.ops.backups import BackupError, BackupInProgress, backup_create

# EX_TEMPFAIL: another run holds the lock; cron may simply try again later.
EXIT_LOCKED = 75


class Command(BaseCommand):
    help = "Back up a database into BACKUP_DIR, keeping the newest BACKUP_KEEP of its own files."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="Database alias to back up.")
        parser.add_argument(
            "--output-dir",
            default=None,
            help=f"Folder to write to (default {settings.BACKUP_DIR}).",
        )
        parser.add_argument(
            "--keep",
            type=int,
            default=None,
            help=f"How many of this alias's backups to keep (default {settings.BACKUP_KEEP}).",
        )
        parser.add_argument(
            "--no-compress", action="store_true", help="Write the copy uncompressed."
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Read the written file back and prove it restores before keeping it.",
        )

    def handle(self, *args, database, output_dir, keep, no_compress, verify, **options):
        try:
            result = backup_create(
                alias=database,
                output_dir=output_dir,
                keep=keep,
                compress=not no_compress,
                verify=verify,
            )
        except BackupInProgress as exc:
            raise CommandError(f"backup_db refused: {exc}", returncode=EXIT_LOCKED) from exc
        except BackupError as exc:
            raise CommandError(f"backup_db failed: {exc}") from exc
        self.stdout.write(str(result.path))
