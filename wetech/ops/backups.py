"""The work behind `backup_db` and `restore_db`.

A backup is a consistent online copy (SQLite's backup API, or `pg_dump -Fc`), checked before it
counts (`PRAGMA integrity_check`, or `pg_restore --list`), compressed with zstd (SQLite; a custom
format dump is compressed by pg_dump itself), written under a hidden temporary name and renamed into
place only once its `.sha256` and `.json` companions exist. One lock per backup folder keeps two
runs (or a backup and a restore) from overlapping, and retention only ever deletes files whose
names this module made, for the same database alias, after a new backup succeeded.

Backups hold session keys, password hashes and every customer's details, so every file this
module writes is created `0600` from its first byte (never widened and narrowed later, where
another user could open it in between), and a backup folder it creates is `0700`.
"""

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import django
import zstandard
from django.conf import settings
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

logger = logging.getLogger("wetech.backups")

LOCK_NAME = ".wetech-backup.lock"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
SQLITE_EXTENSIONS = ("sqlite3.zst", "sqlite3")
POSTGRES_EXTENSION = "pgdump"
# Our own files and nothing else: retention and the health check only ever look at these.
BACKUP_NAME = re.compile(
    r"wetech-(?P<alias>[A-Za-z0-9_]+)-(?P<stamp>\d{8}T\d{6}Z)"
    r"\.(?P<ext>sqlite3\.zst|sqlite3|pgdump)"
)
_TEMPORARY_NAME = re.compile(r"\.wetech-[A-Za-z0-9_]+-\d{8}T\d{6}Z\..+\.tmp")
_ALIAS = re.compile(r"[A-Za-z0-9_]+")
# Level 9 with a worker per core: as small as `gzip -6` at about a quarter of its time.
ZSTD_LEVEL = 9
CHUNK_BYTES = 1 << 20
# Owner only: backups and their companions, and a backup folder this module creates.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


class BackupError(Exception):
    """A backup or restore could not be done; the message is one line for cron and the log."""


class BackupInProgress(BackupError):
    """Another backup or restore holds the lock on the backup folder."""


@dataclass(frozen=True)
class BackupFile:
    path: Path
    alias: str
    created: datetime

    @property
    def checksum_path(self) -> Path:
        return checksum_path_for(self.path)

    @property
    def metadata_path(self) -> Path:
        return metadata_path_for(self.path)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    sha256: str
    duration_seconds: float
    deleted: list[Path] = field(default_factory=list)


def checksum_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def metadata_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def backup_files(*, directory: Path, alias: str | None = None) -> list[BackupFile]:
    """This module's backups in `directory` (optionally for one alias), newest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        match = BACKUP_NAME.fullmatch(name)
        if match is None or (alias is not None and match["alias"] != alias):
            continue
        created = datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
        found.append(BackupFile(path=Path(directory) / name, alias=match["alias"], created=created))
    return sorted(found, key=lambda backup: (backup.created, backup.path.name), reverse=True)


@contextmanager
def backup_lock(*, directory: Path) -> Iterator[None]:
    """Hold the folder's lock, or raise BackupInProgress at once (never wait: cron will retry)."""
    directory = Path(directory)
    try:
        directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    except OSError as exc:
        raise BackupError(f"cannot use backup folder {directory}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupInProgress(
                f"another backup or restore is already running in {directory}"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def backup_create(
    *,
    alias: str = "default",
    output_dir: Path | str | None = None,
    keep: int | None = None,
    compress: bool = True,
    verify: bool = False,
) -> BackupResult:
    """Write a checked backup of database `alias`, then prune to the newest `keep` of ours."""
    started = time.monotonic()
    directory = Path(output_dir or settings.BACKUP_DIR)
    keep = settings.BACKUP_KEEP if keep is None else keep
    try:
        if keep < 1:
            raise BackupError("keep must be at least 1")
        connection = _connection_for(alias)
        with backup_lock(directory=directory):
            _remove_stale_temporaries(directory)
            result = _backup_write(
                connection=connection,
                alias=alias,
                directory=directory,
                compress=compress,
                verify=verify,
                started=started,
            )
            deleted = _prune(directory=directory, alias=alias, keep=keep)
    except BackupError as exc:
        logger.error("backup of %s failed: %s", alias, exc, extra={"alias": alias})
        raise
    result = BackupResult(
        path=result.path,
        size=result.size,
        sha256=result.sha256,
        duration_seconds=result.duration_seconds,
        deleted=deleted,
    )
    logger.info(
        "backup of %s written to %s (%.1f MiB, %.1fs, %d old removed)",
        alias,
        result.path,
        result.size / 2**20,
        result.duration_seconds,
        len(deleted),
        extra={"alias": alias, "size": result.size, "duration_s": result.duration_seconds},
    )
    return result


def backup_checksum_verify(*, path: Path | str) -> str:
    """Check `path` against its `.sha256` file; returns the digest or raises BackupError."""
    try:
        return _checksum_verify(Path(path))
    except BackupError as exc:
        logger.error("backup %s refused: %s", path, exc)
        raise


def _checksum_verify(path: Path) -> str:
    if not path.is_file():
        raise BackupError(f"no such backup file: {path}")
    digest_file = checksum_path_for(path)
    try:
        recorded = digest_file.read_text(encoding="ascii").split()[0].lower()
    except (OSError, UnicodeDecodeError, IndexError):
        raise BackupError(
            f"no readable checksum file {digest_file.name}: refusing an unverified backup"
        ) from None
    actual = _sha256_of(path)
    if not hmac.compare_digest(recorded, actual):
        raise BackupError(f"checksum mismatch for {path.name}: the file is damaged or was changed")
    return actual


def backup_describe(*, path: Path | str) -> dict:
    """The metadata written beside a backup (empty when its `.json` is missing or unreadable)."""
    try:
        return json.loads(metadata_path_for(Path(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def backup_restore(*, path: Path | str, alias: str = "default") -> None:
    """Replace database `alias` with the backup at `path`, after checking its sha256."""
    path = Path(path)
    try:
        _checksum_verify(path)
        connection = _connection_for(alias)
        kind = _kind_of(path)
        if kind != connection.vendor:
            raise BackupError(
                f"{path.name} is a {kind} backup but database {alias!r} is {connection.vendor}"
            )
        with backup_lock(directory=Path(settings.BACKUP_DIR)):
            connection.close()
            if kind == "sqlite":
                _sqlite_restore(path=path, target=connection.settings_dict["NAME"])
            else:
                _postgres_restore(path=path, connection=connection)
    except BackupError as exc:
        logger.error("restore of %s from %s failed: %s", alias, path, exc, extra={"alias": alias})
        raise
    logger.warning("database %s restored from %s", alias, path, extra={"alias": alias})


# --- Writing a backup -----------------------------------------------------------------------------


def _backup_write(*, connection, alias, directory, compress, verify, started) -> BackupResult:
    created = datetime.now(UTC)
    if connection.vendor == "sqlite":
        extension = "sqlite3.zst" if compress else "sqlite3"
    else:
        extension = POSTGRES_EXTENSION
    final = directory / f"wetech-{alias}-{created.strftime(STAMP_FORMAT)}.{extension}"
    if final.exists():
        raise BackupError(f"{final.name} already exists: wait a second and run again")
    temporary = directory / f".{final.name}.tmp"
    raw_copy = directory / f".{final.name}.raw.tmp"
    try:
        if connection.vendor == "sqlite":
            database = connection.settings_dict["NAME"]
            _sqlite_copy(source=database, target=raw_copy)
            # The integrity check and the compression (or hashing) only read the finished
            # copy, and both release the GIL: run them side by side.
            with ThreadPoolExecutor(max_workers=1) as checker:
                check = checker.submit(_sqlite_check, raw_copy)
                if compress:
                    digest = _zstd_compress(source=raw_copy, target=temporary)
                else:
                    digest = _sha256_of(raw_copy)
                check.result()
            if compress:
                raw_copy.unlink()
            else:
                raw_copy.rename(temporary)
            compression = "zstd" if compress else "none"
        else:
            database = connection.settings_dict["NAME"]
            _pg_dump(connection=connection, target=temporary, compress=compress)
            digest = _sha256_of(temporary)
            compression = "pg_dump" if compress else "none"
        if verify:
            _verify_written(path=temporary, kind=connection.vendor, digest=digest)
        size = temporary.stat().st_size
        duration = round(time.monotonic() - started, 3)
        metadata = {
            "file": final.name,
            "alias": alias,
            "engine": connection.vendor,
            "database": Path(database).name if connection.vendor == "sqlite" else database,
            "compression": compression,
            "size": size,
            "sha256": digest,
            "created": created.isoformat(timespec="seconds"),
            "duration_seconds": duration,
            "django_version": django.get_version(),
            "app_version": settings.APP_VERSION,
            "migrations": _migration_state(connection),
        }
        # Companions first, the backup last: a backup that exists always has its digest.
        _write_text_atomically(checksum_path_for(final), f"{digest}  {final.name}\n")
        _write_text_atomically(metadata_path_for(final), json.dumps(metadata, indent=2) + "\n")
        _fsync(temporary)
        os.replace(temporary, final)
        _fsync_directory(directory)
    except BaseException:
        for leftover in (temporary, raw_copy):
            with suppress(OSError):
                leftover.unlink()
        raise
    return BackupResult(path=final, size=size, sha256=digest, duration_seconds=duration)


def _sqlite_copy(*, source: str, target: Path) -> None:
    if not source or source == ":memory:" or "mode=memory" in str(source):
        raise BackupError("an in-memory SQLite database cannot be backed up")
    if not Path(source).is_file():
        raise BackupError(f"SQLite database {source} does not exist")
    # SQLite opens an existing empty file as a new database and keeps its mode (its journal
    # takes the same mode), so the copy is private from the start.
    os.close(_create_private(target))
    try:
        reader = sqlite3.connect(source, timeout=30)
        try:
            writer = sqlite3.connect(target)
            try:
                # One step (pages=-1) copies a single snapshot: writers that commit meanwhile
                # are simply not in it, instead of restarting a paged copy forever.
                reader.backup(writer, pages=-1)
                # A copy of a WAL database is in WAL mode too; make it one self-contained file.
                writer.execute("PRAGMA journal_mode=DELETE")
            finally:
                writer.close()
        finally:
            reader.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup failed: {exc}") from exc


class _HashingWriter:
    """A file wrapper that hashes what passes through it, so the output is read only once."""

    def __init__(self, file):
        self.file = file
        self.hash = hashlib.sha256()

    def write(self, data) -> int:
        self.hash.update(data)
        return self.file.write(data)


def _zstd_compress(*, source: Path, target: Path) -> str:
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1, write_checksum=True)
    with open(source, "rb") as reader, _open_private(target) as output:
        writer = _HashingWriter(output)
        compressor.copy_stream(reader, writer, read_size=CHUNK_BYTES, write_size=CHUNK_BYTES)
    return writer.hash.hexdigest()


def _zstd_decompress(*, source: Path, target: Path) -> None:
    try:
        with open(source, "rb") as reader, open(target, "wb") as writer:
            zstandard.ZstdDecompressor().copy_stream(
                reader, writer, read_size=CHUNK_BYTES, write_size=CHUNK_BYTES
            )
    except zstandard.ZstdError as exc:
        raise BackupError(f"cannot decompress {source.name}: {exc}") from exc


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as reader:
        while chunk := reader.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_written(*, path: Path, kind: str, digest: str) -> None:
    """--verify: read back what reached the disk and prove it restores."""
    if _sha256_of(path) != digest:
        raise BackupError(f"{path.name} changed on disk while it was written")
    if kind == "postgresql":
        _pg_restore_list(path)
        return
    if not path.name.endswith(".zst.tmp"):
        _sqlite_check(path)
        return
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".wetech-verify-") as scratch:
        plain = Path(scratch) / "copy.sqlite3"
        _zstd_decompress(source=path, target=plain)
        _sqlite_check(plain)


def _sqlite_check(path: Path) -> None:
    try:
        reader = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            verdict = reader.execute("PRAGMA integrity_check").fetchall()
        finally:
            reader.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{path.name} is not a readable SQLite database: {exc}") from exc
    if verdict != [("ok",)]:
        raise BackupError(f"{path.name} failed PRAGMA integrity_check: {verdict[0][0]}")


def _migration_state(connection) -> dict:
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return {"applied": 0, "latest": {}}
    applied = sorted(recorder.applied_migrations())
    latest = {}
    for app_label, name in applied:
        latest[app_label] = max(latest.get(app_label, ""), name)
    return {"applied": len(applied), "latest": latest}


def _prune(*, directory: Path, alias: str, keep: int) -> list[Path]:
    deleted = []
    for old in backup_files(directory=directory, alias=alias)[keep:]:
        for path in (old.path, old.checksum_path, old.metadata_path):
            with suppress(FileNotFoundError):
                path.unlink()
        deleted.append(old.path)
    return deleted


def _remove_stale_temporaries(directory: Path) -> None:
    """Under the lock no other run is writing, so our own temporaries are leftovers of a crash."""
    for name in os.listdir(directory):
        if _TEMPORARY_NAME.fullmatch(name):
            with suppress(OSError):
                (directory / name).unlink()


def _create_private(path: Path) -> int:
    """A new file at `path`, mode 0600 from the start; returns its descriptor (write only).

    Only ever called for our own temporary names: a leftover under that name is replaced, never
    reused, since an existing file would keep whatever mode it had.
    """
    with suppress(FileNotFoundError):
        os.unlink(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)


def _open_private(path: Path, mode: str = "wb", **kwargs):
    return os.fdopen(_create_private(path), mode, **kwargs)


def _write_text_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with _open_private(temporary, "w", encoding="utf-8") as writer:
        writer.write(text)
        writer.flush()
        os.fsync(writer.fileno())
    os.replace(temporary, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    with suppress(OSError):
        _fsync(directory)


# --- Restoring ------------------------------------------------------------------------------------


def _kind_of(path: Path) -> str:
    if path.name.endswith(POSTGRES_EXTENSION):
        return "postgresql"
    if path.name.endswith(SQLITE_EXTENSIONS):
        return "sqlite"
    raise BackupError(
        f"{path.name} is not a file backup_db writes (.sqlite3, .sqlite3.zst, .pgdump)"
    )


def _sqlite_restore(*, path: Path, target: str) -> None:
    if not target or target == ":memory:" or "mode=memory" in str(target):
        raise BackupError("cannot restore into an in-memory SQLite database")
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_path.parent, prefix=".wetech-restore-") as scratch:
        plain = Path(scratch) / "restore.sqlite3"
        if path.name.endswith(".zst"):
            _zstd_decompress(source=path, target=plain)
        else:
            shutil.copyfile(path, plain)
        _sqlite_check(plain)
        try:
            reader = sqlite3.connect(plain)
            try:
                writer = sqlite3.connect(target_path, timeout=30)
                try:
                    # The backup API takes the live database's write lock and replaces every
                    # page, so readers in other processes see the old or the new data, never a mix.
                    reader.backup(writer, pages=-1)
                finally:
                    writer.close()
            finally:
                reader.close()
        except sqlite3.Error as exc:
            raise BackupError(f"SQLite restore failed: {exc}") from exc


# --- PostgreSQL tools -----------------------------------------------------------------------------


def _pg_environment(settings_dict: dict) -> dict:
    """libpq settings through the environment, so the password never shows in `ps`."""
    options = settings_dict.get("OPTIONS") or {}
    pairs = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
        "PGSSLMODE": options.get("sslmode"),
        "PGCONNECT_TIMEOUT": options.get("connect_timeout"),
    }
    return {**os.environ, **{key: str(value) for key, value in pairs.items() if value}}


def _pg_tool(name: str, connection) -> str:
    """The path of `name`, refusing one that is missing or older than the server."""
    try:
        connection.ensure_connection()
    except Exception as exc:
        raise BackupError(f"cannot connect to PostgreSQL: {exc}".splitlines()[0]) from exc
    server_major = connection.pg_version // 10000
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL {server_major} client tools "
            f"(Debian: postgresql-client-{server_major})"
        )
    answer = _run_tool([path, "--version"], env=dict(os.environ), what=f"{name} --version")
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", answer.stdout)
    if found is None:
        raise BackupError(f"cannot tell the version of {path} from {answer.stdout.strip()!r}")
    client_major = int(found[1])
    if client_major < server_major:
        raise BackupError(
            f"{name} {client_major} is older than the PostgreSQL {server_major} server: "
            f"install postgresql-client-{server_major}"
        )
    return path


def _run_tool(command: list[str], *, env: dict, what: str) -> subprocess.CompletedProcess:
    try:
        # The command is ours: a PostgreSQL tool found on PATH and paths this module built.
        completed = subprocess.run(  # noqa: S603
            command, env=env, capture_output=True, text=True, timeout=6 * 3600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{what} could not run: {exc}") from exc
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {completed.returncode}"
        raise BackupError(f"{what} failed: {reason}")
    return completed


def _pg_dump(*, connection, target: Path, compress: bool) -> None:
    pg_dump = _pg_tool("pg_dump", connection)
    # pg_dump truncates and writes an existing file, keeping its (private) mode.
    os.close(_create_private(target))
    command = [pg_dump, "--format=custom", "--no-password", f"--file={target}"]
    if not compress:
        command.append("--compress=0")
    _run_tool(command, env=_pg_environment(connection.settings_dict), what="pg_dump")
    _pg_restore_list(target)


def _pg_restore_list(path: Path) -> None:
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise BackupError("pg_restore not found on PATH: install the PostgreSQL client tools")
    # Reading the whole table of contents proves the archive is complete and well formed.
    _run_tool([pg_restore, "--list", str(path)], env=dict(os.environ), what="pg_restore --list")


def _postgres_restore(*, path: Path, connection) -> None:
    pg_restore = _pg_tool("pg_restore", connection)
    connection.close()
    _run_tool(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={connection.settings_dict['NAME']}",
            str(path),
        ],
        env=_pg_environment(connection.settings_dict),
        what="pg_restore",
    )


def _connection_for(alias: str):
    if not _ALIAS.fullmatch(alias):
        raise BackupError(f"database alias {alias!r} must be letters, digits or _")
    if alias not in connections.settings:
        raise BackupError(f"no database alias {alias!r} in settings.DATABASES")
    connection = connections[alias]
    if connection.vendor not in ("sqlite", "postgresql"):
        raise BackupError(f"backups of {connection.vendor} databases are not supported")
    return connection
