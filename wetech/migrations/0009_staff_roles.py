"""Staff roles: the permissions of the back office's actions and the Sales and Finance groups.

Sales sells: leads, clients and invoices, and may issue, void and resend them; no refunds and no
review decisions. Finance looks after money: payments, the ledger, review cases, refunds and
credit notes, and may refund and resolve review cases; it sees invoices but does not change them.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Sales": [
        "view_lead",
        "change_lead",
        "view_client",
        "change_client",
        "view_service",
        "view_invoice",
        "add_invoice",
        "change_invoice",
        "view_invoiceline",
        "add_invoiceline",
        "change_invoiceline",
        "delete_invoiceline",
        "issue_invoice",
        "void_invoice",
        "resend_email",
        "view_auditentry",
    ],
    "Finance": [
        "view_invoice",
        "view_invoiceline",
        "view_paymentattempt",
        "view_ledgerentry",
        "view_gatewaynotification",
        "view_reviewcase",
        "resolve_reviewcase",
        "view_refund",
        "view_creditnote",
        "refund_payment",
        "view_auditentry",
    ],
}


def roles_create(apps, schema_editor):
    # Permissions are normally created after the last migration (post_migrate); the groups
    # need them now, so create this app's (and their content types) first.
    app_config = apps.get_app_config("wetech")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = Permission.objects.filter(
            content_type__app_label="wetech", codename__in=codenames
        )
        found = {permission.codename for permission in permissions}
        missing = sorted(set(codenames) - found)
        if missing:
            raise RuntimeError(f"permissions missing for the {name} group: {', '.join(missing)}")
        group.permissions.add(*permissions)


def roles_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("wetech", "0008_refund_alerted_at"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="invoice",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    ("void_invoice", "Can void an unpaid invoice"),
                    ("issue_invoice", "Can issue an invoice with lines typed by staff"),
                    ("resend_email", "Can send an invoice or receipt email again"),
                ],
            },
        ),
        migrations.AlterModelOptions(
            name="paymentattempt",
            options={
                "ordering": ["-created_at"],
                "permissions": [("refund_payment", "Can refund a completed payment")],
            },
        ),
        migrations.AlterModelOptions(
            name="reviewcase",
            options={
                "ordering": ["-opened_at", "-pk"],
                "permissions": [("resolve_reviewcase", "Can resolve a review case")],
            },
        ),
        migrations.RunPython(roles_create, roles_delete),
    ]
