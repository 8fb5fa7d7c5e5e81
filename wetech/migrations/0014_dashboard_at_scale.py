"""The staff dashboard at 200,000 invoices (issue 12, the back office at scale): covering indexes
and statistics for its figures, on PostgreSQL.

The dashboard's queries join or group whole sets of rows: unpaid invoices by age, the leads of the
funnel's twelve weeks with their invoices, the ledger entries of a year with their invoice's lead's
service. Two things made them slow at 200,000 invoices:

- Invoice and lead rows are wide (names, emails, the message, the UTM fields), so reading them from
  the table cost most of the time. These covering indexes hold the few columns each query needs,
  which PostgreSQL then reads from the index alone (an index-only scan):
  `invoice_unpaid_covering` (status, with the issue date, currency, total and id: unpaid by age),
  `invoice_lead_covering` (lead, with the id, issue date and status: the funnel, and the revenue's
  invoice-to-lead step), `lead_service_covering` (id, with the service: the revenue's
  lead-to-service step).
- PostgreSQL cannot tell how many months or weeks `date_trunc(...)` of a timestamp makes, guessed
  one group per row, and so sorted 100,000 rows on disk instead of hashing them into a few hundred
  groups. Statistics on those two expressions (in the site's TIME_ZONE, as the dashboard truncates)
  tell it.

Together: the revenue query about twice as fast, the funnel and unpaid ones about 1.5 to 2 times.
PostgreSQL only (`INCLUDE` columns, expression statistics); created by SQL, not in the models'
state, like the trigram indexes of 0011.
"""

from django.conf import settings
from django.db import migrations

INDEXES = {
    "invoice_unpaid_covering": (
        "wetech_invoice",
        '("status") INCLUDE ("issued_at", "currency", "total", "id")',
    ),
    "invoice_lead_covering": (
        "wetech_invoice",
        '("lead_id") INCLUDE ("id", "issued_at", "status")',
    ),
    "lead_service_covering": ("wetech_lead", '("id") INCLUDE ("service_id")'),
}
# (name, table, period): the expression Django's TruncMonth / TruncWeek writes.
STATISTICS = (
    ("ledger_entry_month_stats", "wetech_ledgerentry", "month"),
    ("lead_week_stats", "wetech_lead", "week"),
)


def dashboard_at_scale(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, columns) in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" {columns}')
    zone = settings.TIME_ZONE.replace("'", "''")
    for name, table, period in STATISTICS:
        schema_editor.execute(
            f'CREATE STATISTICS IF NOT EXISTS "{name}" ON '
            f"(DATE_TRUNC('{period}', \"created_at\" AT TIME ZONE '{zone}')) FROM \"{table}\""
        )
        # Statistics are gathered by ANALYZE; the next autovacuum would, this does it now.
        schema_editor.execute(f'ANALYZE "{table}"')


def dashboard_at_scale_undo(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    for name, _, _ in STATISTICS:
        schema_editor.execute(f'DROP STATISTICS IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("wetech", "0013_service_translations"),
    ]

    operations = [
        migrations.RunPython(dashboard_at_scale, dashboard_at_scale_undo, elidable=False),
    ]
