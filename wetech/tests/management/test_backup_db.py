import json
import os
import sqlite3
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zstandard

from wetech.services.backups import backup_lock
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
