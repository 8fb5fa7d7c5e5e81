import json
import os
import sqlite3
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zstandard

from wetech.ops.backups import backup_lock
from wetech.tests.conftest import run_django


def _backup(site, *args):
    result = run_django("backup_db", *args, env=site.env)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def _restore(site, path):
    result = run_django("restore_db", str(path), "--noinput", env=site.env)
    assert result.returncode == 0, result.stderr


def _stamp(hours_ago):
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).strftime("%Y%m%dT%H%M%SZ")


def _plain_copy(path: Path, into: Path) -> Path:
    plain = into / "check.sqlite3"
    if path.name.endswith(".zst"):
        with open(path, "rb") as reader, open(plain, "wb") as writer:
            zstandard.ZstdDecompressor().copy_stream(reader, writer)
    else:
        plain.write_bytes(path.read_bytes())
    return plain


@pytest.mark.parametrize("extra", [[], ["--no-compress"], ["--verify"]])
def test_sqlite_backup_then_restore_brings_back_exactly_the_original_rows(sqlite_site, extra):
    original = sqlite_site.rows()
    path = _backup(sqlite_site, *extra)
    sqlite_site.insert("written", "after", "the backup")
    assert len(sqlite_site.rows()) == 6

    _restore(sqlite_site, path)

    assert sqlite_site.rows() == original


def test_backup_writes_digest_metadata_and_only_its_own_files(sqlite_site):
    path = _backup(sqlite_site)
    assert path.parent == sqlite_site.backup_dir
    assert path.name.startswith("wetech-default-")
    assert path.name.endswith(".sqlite3.zst")
    digest_line = Path(f"{path}.sha256").read_text()
    metadata = json.loads(Path(f"{path}.json").read_text())
    assert digest_line == f"{metadata['sha256']}  {path.name}\n"
    assert metadata["engine"] == "sqlite"
    assert metadata["database"] == "site.sqlite3"
    assert metadata["alias"] == "default"
    assert metadata["size"] == path.stat().st_size
    assert metadata["compression"] == "zstd"
    assert {"django_version", "app_version", "migrations", "duration_seconds", "created"} <= set(
        metadata
    )
    leftovers = [name for name in os.listdir(sqlite_site.backup_dir) if name.endswith(".tmp")]
    assert leftovers == []


def test_backup_logs_one_line_on_success(sqlite_site):
    result = run_django("backup_db", env=sqlite_site.env)
    log = (Path(sqlite_site.env["LOG_DIR"]) / "app.log").read_text()
    assert result.returncode == 0
    assert sum("backup of default written to" in line for line in log.splitlines()) == 1


def test_backup_taken_while_another_thread_writes_is_a_committed_prefix(sqlite_site, tmp_path):
    # Enough data that the copy takes a moment, and writes that commit 10 rows at a time.
    sqlite_site.insert(*[f"seed {n} " + "x" * 2000 for n in range(3000)])
    stop = threading.Event()
    batches = []

    def write():
        writer = sqlite3.connect(sqlite_site.database, timeout=30)
        while not stop.is_set():
            with writer:
                writer.executemany(
                    "INSERT INTO probe (label) VALUES (?)", [("during " + "y" * 500,)] * 10
                )
            batches.append(10)
        writer.close()

    before = len(sqlite_site.rows())
    thread = threading.Thread(target=write)
    thread.start()
    try:
        path = _backup(sqlite_site)
    finally:
        stop.set()
        thread.join()

    plain = _plain_copy(path, tmp_path)
    copy = sqlite3.connect(plain)
    assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    ids = [row[0] for row in copy.execute("SELECT id FROM probe ORDER BY id")]
    copy.close()
    assert ids == list(range(1, len(ids) + 1))
    assert (len(ids) - before) % 10 == 0
    assert before <= len(ids) <= before + sum(batches)


def test_retention_keeps_the_newest_n_and_never_touches_other_files(sqlite_site):
    directory = sqlite_site.backup_dir
    directory.mkdir()
    old = []
    for hours in (72, 48, 24):
        path = directory / f"wetech-default-{_stamp(hours)}.sqlite3.zst"
        for file in (path, Path(f"{path}.sha256"), Path(f"{path}.json")):
            file.write_text("old")
        old.append(path)
    strangers = [
        directory / "notes.txt",
        directory / "wetech-default-manual-copy.sqlite3.zst",
        directory / f"wetech-other-{_stamp(96)}.sqlite3.zst",
        directory / f"wetech-default-{_stamp(120)}.sqlite3.zst.bak",
    ]
    for stranger in strangers:
        stranger.write_text("keep me")

    newest = _backup(sqlite_site, "--keep", "2")

    remaining = sorted(os.listdir(directory))
    assert newest.name in remaining
    assert old[2].name in remaining and f"{old[2].name}.sha256" in remaining
    for gone in old[:2]:
        assert not gone.exists()
        assert not Path(f"{gone}.sha256").exists()
        assert not Path(f"{gone}.json").exists()
    for stranger in strangers:
        assert stranger.read_text() == "keep me"


# --- Backups are private --------------------------------------------------------------------------


@pytest.fixture
def open_umask():
    """A umask that lets others read by default (022): only the code can make the files private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _assert_private_backup(path: Path) -> None:
    for file in (path, Path(f"{path}.sha256"), Path(f"{path}.json")):
        assert _mode(file) == 0o600, f"{file.name} is {oct(_mode(file))}"


@pytest.mark.parametrize("extra", [[], ["--no-compress"], ["--verify"]])
def test_sqlite_backup_files_are_0600_in_a_new_0700_folder(sqlite_site, open_umask, extra):
    assert not sqlite_site.backup_dir.exists()

    path = _backup(sqlite_site, *extra)

    assert _mode(sqlite_site.backup_dir) == 0o700
    _assert_private_backup(path)
    assert _mode(sqlite_site.backup_dir / ".wetech-backup.lock") == 0o600


def test_backup_files_are_0600_in_an_existing_folder_which_keeps_its_mode(sqlite_site, open_umask):
    sqlite_site.backup_dir.mkdir(mode=0o750)

    path = _backup(sqlite_site)

    _assert_private_backup(path)
    assert _mode(sqlite_site.backup_dir) == 0o750


def test_an_output_dir_that_backup_db_creates_is_0700(sqlite_site, open_umask, tmp_path):
    folder = tmp_path / "elsewhere" / "nightly"

    path = _backup(sqlite_site, "--output-dir", str(folder))

    assert path.parent == folder
    assert _mode(folder) == 0o700
    _assert_private_backup(path)


# Runs in the child: records the mode of every file in the backup folder while the backup is
# still being written (the integrity check runs beside the compression), then lets it finish.
MODES_WHILE_WRITING = """
import os, stat
from django.conf import settings
from wetech.ops import backups

import time
real_check = backups._sqlite_check

def check_and_look(path):
    # The compressed file is opened beside this check: wait until it exists.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        name.endswith(".zst.tmp") for name in os.listdir(settings.BACKUP_DIR)
    ):
        time.sleep(0.01)
    for name in sorted(os.listdir(settings.BACKUP_DIR)):
        mode = stat.S_IMODE(os.stat(os.path.join(settings.BACKUP_DIR, name)).st_mode)
        print("MODE", name, oct(mode), flush=True)
    real_check(path)

backups._sqlite_check = check_and_look
print(backups.backup_create().path, flush=True)
"""


def test_sqlite_backup_temporaries_are_private_from_the_start(sqlite_site, open_umask):
    result = run_django("shell", "-c", MODES_WHILE_WRITING, env=sqlite_site.env)
    assert result.returncode == 0, result.stderr

    seen = dict(line.split()[1:] for line in result.stdout.splitlines() if line.startswith("MODE "))
    # The raw copy and the compressed file being written, before any rename into place.
    assert any(name.endswith(".raw.tmp") for name in seen), seen
    assert any(name.endswith(".sqlite3.zst.tmp") for name in seen), seen
    assert set(seen.values()) == {"0o600"}, seen


def test_failed_backup_deletes_nothing(sqlite_site):
    directory = sqlite_site.backup_dir
    directory.mkdir()
    kept = directory / f"wetech-default-{_stamp(24)}.sqlite3.zst"
    kept.write_text("old")
    env = {**sqlite_site.env, "DATABASE_URL": f"sqlite:///{directory}/missing.sqlite3"}
    result = run_django("backup_db", "--keep", "1", env=env)
    assert result.returncode != 0
    assert kept.exists()


def test_a_second_concurrent_backup_is_refused_politely(sqlite_site):
    with backup_lock(directory=sqlite_site.backup_dir):
        result = run_django("backup_db", env=sqlite_site.env)
    assert result.returncode == 75
    assert result.stdout == ""
    reasons = [line for line in result.stderr.splitlines() if line.startswith("CommandError")]
    assert len(reasons) == 1
    assert "already running" in reasons[0]
    assert not [name for name in os.listdir(sqlite_site.backup_dir) if "wetech-default" in name]


def test_refuses_an_unknown_alias_with_one_line(sqlite_site):
    result = run_django("backup_db", "--database", "nope", env=sqlite_site.env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "CommandError: backup_db failed: no database alias 'nope' in settings.DATABASES"
    )


# --- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("extra", [[], ["--no-compress", "--verify"]])
def test_postgres_backup_then_restore_brings_back_exactly_the_original_rows(pg_site, extra):
    original = pg_site.rows()
    path = _backup(pg_site, *extra)
    assert path.name.endswith(".pgdump")
    pg_site.insert("written", "after", "the backup")
    assert len(pg_site.rows()) == 6

    _restore(pg_site, path)

    assert pg_site.rows() == original
    metadata = json.loads(Path(f"{path}.json").read_text())
    assert metadata["engine"] == "postgresql"


def _fake_tool(directory: Path, name: str, version_line: str) -> None:
    directory.mkdir(exist_ok=True)
    tool = directory / name
    tool.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


@pytest.mark.postgres
def test_postgres_refuses_a_pg_dump_older_than_the_server(pg_site, tmp_path):
    bin_dir = tmp_path / "bin"
    _fake_tool(bin_dir, "pg_dump", "pg_dump (PostgreSQL) 9.6.24")
    env = {**pg_site.env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = run_django("backup_db", env=env)
    assert result.returncode == 1
    assert "pg_dump 9 is older than the PostgreSQL" in result.stderr.splitlines()[-1]


@pytest.mark.postgres
def test_postgres_names_a_missing_pg_dump(pg_site, tmp_path):
    # A PATH with python's folder only: no PostgreSQL tools on it.
    env = {**pg_site.env, "PATH": str(tmp_path)}
    result = run_django("backup_db", env=env)
    assert result.returncode == 1
    assert "pg_dump not found on PATH" in result.stderr.splitlines()[-1]


@pytest.mark.postgres
@pytest.mark.parametrize("extra", [[], ["--no-compress", "--verify"]])
def test_postgres_backup_files_are_0600_in_a_new_0700_folder(pg_site, open_umask, extra):
    assert not pg_site.backup_dir.exists()

    path = _backup(pg_site, *extra)

    assert path.name.endswith(".pgdump")
    assert _mode(pg_site.backup_dir) == 0o700
    _assert_private_backup(path)
