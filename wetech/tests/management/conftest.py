"""A small file-based site database for the backup_db / restore_db commands, run in subprocesses.

The test database is in memory on SQLite (nothing to back up), so these commands run against a
scratch database of their own: a SQLite file here, a scratch PostgreSQL database in `pg_site`.
"""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from django.db import connection


@dataclass
class Site:
    env: dict
    backup_dir: Path
    rows: Callable[[], list[tuple]]
    insert: Callable[..., None]
    database: Path | None = None


def _sqlite_rows(path):
    def rows():
        reader = sqlite3.connect(path)
        try:
            return reader.execute("SELECT id, label FROM probe ORDER BY id").fetchall()
        finally:
            reader.close()

    return rows


def _sqlite_insert(path):
    def insert(*labels):
        writer = sqlite3.connect(path)
        try:
            with writer:
                writer.executemany("INSERT INTO probe (label) VALUES (?)", [(x,) for x in labels])
        finally:
            writer.close()

    return insert


@pytest.fixture
def sqlite_site(tmp_path) -> Site:
    database = tmp_path / "site.sqlite3"
    writer = sqlite3.connect(database)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, label TEXT NOT NULL)")
    writer.commit()
    writer.close()
    backup_dir = tmp_path / "backups"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "BACKUP_DIR": str(backup_dir),
        "LOG_DIR": str(tmp_path / "logs"),
        "REDIS_URL": None,
    }
    site = Site(
        env=env,
        backup_dir=backup_dir,
        rows=_sqlite_rows(database),
        insert=_sqlite_insert(database),
        database=database,
    )
    site.insert("alpha", "beta", "gamma")
    return site


@pytest.fixture
def pg_site(tmp_path, on_postgres) -> Site:
    """A scratch PostgreSQL database beside the test database, dropped afterwards."""
    params = connection.settings_dict
    name = f"{params['NAME']}_backup"
    server = {
        "host": params["HOST"] or "127.0.0.1",
        "port": params["PORT"] or 5432,
        "user": params["USER"],
        "password": params["PASSWORD"],
    }

    def admin(sql):
        conn = psycopg2.connect(dbname="postgres", **server)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()

    def run(sql, args=None, fetch=False):
        conn = psycopg2.connect(dbname=name, **server)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall() if fetch else None
        finally:
            conn.close()

    admin(f'DROP DATABASE IF EXISTS "{name}"')
    admin(f'CREATE DATABASE "{name}"')
    run("CREATE TABLE probe (id serial PRIMARY KEY, label text NOT NULL)")
    password = f":{server['password']}" if server["password"] else ""
    env = {
        "DATABASE_URL": (
            f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{name}"
        ),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "LOG_DIR": str(tmp_path / "logs"),
        "REDIS_URL": None,
    }

    def insert(*labels):
        for label in labels:
            run("INSERT INTO probe (label) VALUES (%s)", [label])

    site = Site(
        env=env,
        backup_dir=tmp_path / "backups",
        rows=lambda: run("SELECT id, label FROM probe ORDER BY id", fetch=True),
        insert=insert,
    )
    site.insert("alpha", "beta", "gamma")
    yield site
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
