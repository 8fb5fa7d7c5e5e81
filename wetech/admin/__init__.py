"""The back office (Django admin), one module per domain.

Importing the package (the admin's autodiscovery does) registers every module's admins.
"""

from wetech.admin import backoffice, outbox, payments, sales, schedule

__all__ = ["backoffice", "outbox", "payments", "sales", "schedule"]
