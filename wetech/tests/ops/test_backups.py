import hashlib
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from wetech.ops.backups import (
    BackupError,
    BackupInProgress,
    backup_checksum_verify,
    backup_files,
    backup_lock,
    backup_restore,
)


def _write_backup(directory, name, content=b"backup bytes"):
    path = directory / name
    path.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    (directory / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    return path


def test_backup_files_lists_only_its_own_names_newest_first(tmp_path):
    for name in (
        "wetech-default-20260101T020000Z.sqlite3.zst",
        "wetech-default-20260103T020000Z.pgdump",
        "wetech-default-20260102T020000Z.sqlite3",
        "wetech-replica-20260104T020000Z.pgdump",
        "wetech-default-20260105T020000Z.sqlite3.zst.sha256",
        "wetech-default-20260106T020000Z.sqlite3.gz",
        ".wetech-default-20260107T020000Z.sqlite3.zst.tmp",
        "db.sqlite3",
    ):
        (tmp_path / name).write_text("x")

    found = backup_files(directory=tmp_path, alias="default")

    assert [backup.path.name for backup in found] == [
        "wetech-default-20260103T020000Z.pgdump",
        "wetech-default-20260102T020000Z.sqlite3",
        "wetech-default-20260101T020000Z.sqlite3.zst",
    ]
    assert found[0].created == datetime(2026, 1, 3, 2, 0, tzinfo=UTC)
    assert len(backup_files(directory=tmp_path)) == 4
    assert backup_files(directory=tmp_path / "missing") == []


def test_the_lock_refuses_a_second_holder_and_frees_on_exit(tmp_path):
    with backup_lock(directory=tmp_path):
        with pytest.raises(BackupInProgress), backup_lock(directory=tmp_path):
            pass
        refused = []

        def other_thread():
            try:
                with backup_lock(directory=tmp_path):
                    pass
            except BackupInProgress:
                refused.append(True)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert refused == [True]
    with backup_lock(directory=tmp_path):
        pass


def test_checksum_verify_accepts_an_intact_file(tmp_path):
    path = _write_backup(tmp_path, "wetech-default-20260101T020000Z.sqlite3.zst")
    assert backup_checksum_verify(path=path) == hashlib.sha256(b"backup bytes").hexdigest()


def test_checksum_verify_refuses_a_changed_file_and_logs_it(tmp_path, caplog):
    path = _write_backup(tmp_path, "wetech-default-20260101T020000Z.sqlite3.zst")
    path.write_bytes(b"backup bytez")
    with pytest.raises(BackupError, match="checksum mismatch"):
        backup_checksum_verify(path=path)
    assert any("refused" in record.getMessage() for record in caplog.records)


def test_checksum_verify_refuses_a_missing_or_empty_digest(tmp_path):
    path = _write_backup(tmp_path, "wetech-default-20260101T020000Z.sqlite3.zst")
    (tmp_path / f"{path.name}.sha256").write_text("")
    with pytest.raises(BackupError, match="no readable checksum file"):
        backup_checksum_verify(path=path)
    (tmp_path / f"{path.name}.sha256").unlink()
    with pytest.raises(BackupError, match="no readable checksum file"):
        backup_checksum_verify(path=path)


@pytest.mark.django_db
def test_restore_refuses_a_backup_of_another_engine(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path
    other = "pgdump" if connection.vendor == "sqlite" else "sqlite3.zst"
    path = _write_backup(tmp_path, f"wetech-default-20260101T020000Z.{other}")
    with pytest.raises(BackupError, match="backup but database 'default' is"):
        backup_restore(path=path)


def test_restore_refuses_a_file_it_did_not_write(tmp_path):
    path = _write_backup(tmp_path, "dump.sql")
    with pytest.raises(BackupError, match="is not a file backup_db writes"):
        backup_restore(path=path)
