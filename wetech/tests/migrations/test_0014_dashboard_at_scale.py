"""Migration 0014: the dashboard's covering indexes and expression statistics exist on PostgreSQL
only, and the migration applies and unapplies on SQLite and PostgreSQL alike."""

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from wetech.dashboard import funnel_weekly, revenue_monthly

BEFORE = [("wetech", "0013_service_translations")]
AFTER = [("wetech", "0014_dashboard_at_scale")]
INDEXES = {
    "wetech_invoice": {"invoice_unpaid_covering", "invoice_lead_covering"},
    "wetech_lead": {"lead_service_covering"},
}
STATISTICS = {"ledger_entry_month_stats", "lead_week_stats"}


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {name for name, info in constraints.items() if info["index"]}


def _statistics() -> set[str]:
    if connection.vendor != "postgresql":
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT stxname FROM pg_statistic_ext")
        return {name for (name,) in cursor.fetchall()}


@pytest.fixture
def back_to_the_latest_schema():
    yield
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_indexes_exist_on_postgresql_only(back_to_the_latest_schema):
    _migrate(BEFORE)
    for table, names in INDEXES.items():
        assert not names & _indexes(table), table
    assert not STATISTICS & _statistics()

    _migrate(AFTER)
    postgres = connection.vendor == "postgresql"
    for table, names in INDEXES.items():
        assert (names <= _indexes(table)) is postgres, table
        assert postgres or not names & _indexes(table), table
    assert (_statistics() >= STATISTICS) is postgres


@pytest.mark.django_db
def test_the_statistics_are_on_the_expressions_the_dashboard_groups_by(on_postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stxname, pg_get_statisticsobjdef_expressions(oid)::text FROM pg_statistic_ext"
            " WHERE stxname = ANY(%s)",
            [sorted(STATISTICS)],
        )
        expressions = dict(cursor.fetchall())
    zone = f"'{settings.TIME_ZONE}'"
    assert (
        f"date_trunc('month'::text, (created_at AT TIME ZONE {zone}::text))"
        in (expressions["ledger_entry_month_stats"])
    )
    assert (
        f"date_trunc('week'::text, (created_at AT TIME ZONE {zone}::text))"
        in (expressions["lead_week_stats"])
    )


@pytest.mark.django_db
def test_the_dashboard_groups_by_those_expressions(on_postgres):
    """The statistics help only while the dashboard's SQL says the same expressions."""
    with CaptureQueriesContext(connection) as captured:
        funnel_weekly()
        revenue_monthly()
    sql = "\n".join(query["sql"] for query in captured.captured_queries)
    zone = settings.TIME_ZONE
    assert f"""DATE_TRUNC('week', "wetech_lead"."created_at" AT TIME ZONE '{zone}')""" in sql
    assert (
        f"""DATE_TRUNC('month', "wetech_ledgerentry"."created_at" AT TIME ZONE '{zone}')""" in sql
    )
