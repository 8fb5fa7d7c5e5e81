"""Migration 0011: the back office's indexes apply (and unapply) on SQLite and PostgreSQL; the
pg_trgm indexes exist on PostgreSQL only, and a name search reads them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from wetech.models import Invoice

BEFORE = [("wetech", "0010_scheduled_runs")]
AFTER = [("wetech", "0011_backoffice_at_scale")]
INDEXES = {
    "wetech_invoice": {"invoice_created_at", "invoice_client_email", "invoice_client_phone"},
    "wetech_client": {"client_created_at"},
    "wetech_lead": {"lead_phone"},
    "wetech_outgoingemail": {"outgoing_email_created_at", "outgoing_email_reason"},
}
TRIGRAM = {
    "wetech_invoice": {"invoice_client_name_trgm", "invoice_client_company_trgm"},
    "wetech_client": {"client_name_trgm", "client_company_trgm"},
    "wetech_lead": {"lead_name_trgm", "lead_company_trgm"},
}


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {name for name, info in constraints.items() if info["index"]}


@pytest.fixture
def back_to_the_latest_schema():
    yield
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_indexes_come_and_go_with_the_migration(back_to_the_latest_schema):
    _migrate(BEFORE)
    for table, names in {**INDEXES, **TRIGRAM}.items():
        assert not names & _indexes(table), table

    _migrate(AFTER)
    for table, names in INDEXES.items():
        assert names <= _indexes(table), table
    trigram = connection.vendor == "postgresql"
    for table, names in TRIGRAM.items():
        assert (names <= _indexes(table)) is trigram, table
        assert not (names & _indexes(table)) or trigram, table


@pytest.mark.django_db
def test_a_name_search_reads_the_trigram_index(on_postgres):
    with connection.cursor() as cursor:
        # A test's small table is read whole (or along another index) whatever its indexes:
        # leave the planner only bitmap scans, the kind a GIN index serves.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    plan = Invoice.objects.filter(client_name__icontains="mwakyusa").order_by().explain()
    assert "invoice_client_name_trgm" in plan
