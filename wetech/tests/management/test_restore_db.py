import os
import subprocess
import sys
from pathlib import Path

from wetech.tests.conftest import REPO_ROOT, run_django


def _backup(site):
    result = run_django("backup_db", env=site.env)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def _restore(site, path, *args):
    return run_django("restore_db", str(path), *args, env=site.env)


def test_a_corrupted_backup_is_refused_and_nothing_changes(sqlite_site):
    path = _backup(sqlite_site)
    sqlite_site.insert("newer")
    expected = sqlite_site.rows()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    result = _restore(sqlite_site, path, "--noinput")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"CommandError: restore_db refused: checksum mismatch for {path.name}: "
        "the file is damaged or was changed"
    )
    assert sqlite_site.rows() == expected


def test_a_backup_without_its_digest_is_refused(sqlite_site):
    path = _backup(sqlite_site)
    Path(f"{path}.sha256").unlink()
    result = _restore(sqlite_site, path, "--noinput")
    assert result.returncode == 1
    assert "no readable checksum file" in result.stderr


def test_a_missing_file_is_refused(sqlite_site, tmp_path):
    result = _restore(sqlite_site, tmp_path / "nothing.sqlite3.zst", "--noinput")
    assert result.returncode == 1
    assert "no such backup file" in result.stderr


def _restore_answering(site, path, answer):
    return subprocess.run(
        [sys.executable, "manage.py", "restore_db", str(path)],
        cwd=REPO_ROOT,
        env={key: value for key, value in {**os.environ, **site.env}.items() if value is not None},
        input=answer,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_asks_before_overwriting_and_a_no_changes_nothing(sqlite_site):
    path = _backup(sqlite_site)
    sqlite_site.insert("newer")
    expected = sqlite_site.rows()

    result = _restore_answering(sqlite_site, path, "no\n")

    assert result.returncode == 1
    assert "Type 'yes' to continue" in result.stdout
    assert "cancelled" in result.stderr
    assert sqlite_site.rows() == expected


def test_a_yes_restores(sqlite_site):
    original = sqlite_site.rows()
    path = _backup(sqlite_site)
    sqlite_site.insert("newer")
    result = _restore_answering(sqlite_site, path, "yes\n")
    assert result.returncode == 0, result.stderr
    assert sqlite_site.rows() == original
