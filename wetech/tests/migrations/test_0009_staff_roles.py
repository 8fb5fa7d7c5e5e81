"""Migration 0009: the staff actions' permissions and the Sales and Finance groups."""

import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db

SALES = {
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
}
FINANCE = {
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
}


def codenames(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {(p.content_type.app_label, p.codename) for p in group.permissions.all()}


def test_sales_group_has_exactly_its_permissions():
    assert codenames("Sales") == {("wetech", codename) for codename in SALES}


def test_finance_group_has_exactly_its_permissions():
    assert codenames("Finance") == {("wetech", codename) for codename in FINANCE}


def test_no_money_decision_is_shared_between_the_roles():
    sales, finance = codenames("Sales"), codenames("Finance")
    money = {("wetech", "refund_payment"), ("wetech", "resolve_reviewcase")}
    invoice_actions = {
        ("wetech", "void_invoice"),
        ("wetech", "issue_invoice"),
        ("wetech", "resend_email"),
        ("wetech", "change_invoice"),
    }
    assert not sales & money
    assert not finance & invoice_actions
