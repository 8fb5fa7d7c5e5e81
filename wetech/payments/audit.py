"""The audit trail's writer: who did what to money or an invoice, when and why.

Call it inside the transaction of the change it records, so the trail and the change commit (or
roll back) together. `actor` is the name as it was (a username, the OS user of a command, or
"system"); `user` is the staff account, when there is one.
"""

from wetech.models import AuditEntry


def audit_record(
    *,
    actor: str,
    action: str,
    invoice=None,
    attempt=None,
    reason: str = "",
    data: dict | None = None,
    user=None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        actor_user=user,
        action=action,
        invoice=invoice,
        attempt=attempt,
        reason=reason,
        data=data or {},
    )
