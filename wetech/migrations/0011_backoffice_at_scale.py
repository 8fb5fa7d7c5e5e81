"""The back office at scale (issue 12): indexes for the orderings and exact searches of the admin
lists, and on PostgreSQL pg_trgm indexes for the name and company searches.

The trigram indexes are on UPPER(column), the expression Django's `icontains` compares
(`UPPER("column"::text) LIKE UPPER('%word%')`), so a substring search of a name reads the index
instead of the table. They exist on PostgreSQL only (SQLite has no pg_trgm and scans its small
tables well enough), so they are created here by SQL on PostgreSQL and are not in the models'
state; the extension is created on PostgreSQL only.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# (table, column) searched by words of a name or company.
TRIGRAM_COLUMNS = (
    ("wetech_client", "name"),
    ("wetech_client", "company"),
    ("wetech_lead", "name"),
    ("wetech_lead", "company"),
    ("wetech_invoice", "client_name"),
    ("wetech_invoice", "client_company"),
)


class TrigramExtensionOnPostgres(TrigramExtension):
    """`TrigramExtension`, whose unapplying leaves other databases alone too (Django's checks
    the vendor when applying only)."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)


def _index_name(table: str, column: str) -> str:
    return f"{table.removeprefix('wetech_')}_{column}_trgm"


def trigram_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in TRIGRAM_COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{_index_name(table, column)}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def trigram_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in TRIGRAM_COLUMNS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{_index_name(table, column)}"')


class Migration(migrations.Migration):
    dependencies = [
        ("wetech", "0010_scheduled_runs"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="client",
            index=models.Index(fields=["created_at"], name="client_created_at"),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["created_at"], name="invoice_created_at"),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["client_email"], name="invoice_client_email"),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["client_phone"], name="invoice_client_phone"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["phone"], name="lead_phone"),
        ),
        migrations.AddIndex(
            model_name="outgoingemail",
            index=models.Index(fields=["created_at"], name="outgoing_email_created_at"),
        ),
        migrations.AddIndex(
            model_name="outgoingemail",
            index=models.Index(
                fields=["reason"], name="outgoing_email_reason", opclasses=["varchar_pattern_ops"]
            ),
        ),
        TrigramExtensionOnPostgres(),
        migrations.RunPython(trigram_indexes_create, trigram_indexes_drop, elidable=False),
    ]
