"""The audit trail's one writer: who did what to money or an invoice, when and why.

Every money step (a refund requested, sent, refused, completed or recorded by hand, a
chargeback, a flag cleared, a review case opened or decided) calls `audit_record` inside the
transaction that made the change, so the trail says exactly what was saved.
"""

from decimal import Decimal

from wetech.models import AuditEntry, Invoice, PaymentAttempt

# The actor of what the site did by itself (settlement, the reconciler, a data migration).
SYSTEM = "system"


def _plain(value):
    """`value` as JSON can hold it: Decimals as their exact digits, everything else as text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def audit_record(
    *,
    actor: str,
    action: str,
    invoice: Invoice | None = None,
    attempt: PaymentAttempt | None = None,
    reason: str = "",
    data: dict | None = None,
    user=None,
) -> AuditEntry:
    """Append one entry. `actor` is the name as it was (a username, the OS user of a command,
    or SYSTEM); `user` the staff account when there is one. The invoice defaults to the
    attempt's. Raises ValueError for an action the trail does not know."""
    if action not in AuditEntry.Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    name = (actor or "").strip() or (user.get_username() if user is not None else "")
    if not name:
        raise ValueError("an audit entry needs an actor")
    invoice_id = invoice.pk if invoice is not None else getattr(attempt, "invoice_id", None)
    return AuditEntry.objects.create(
        actor=name[:150],
        actor_user=user,
        action=action,
        invoice_id=invoice_id,
        attempt=attempt,
        reason=reason,
        data=_plain(data or {}),
    )
