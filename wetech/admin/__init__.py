"""The back office (Django admin), one module per domain.

Importing the package (the admin's autodiscovery does) registers every module's admins.
"""

from wetech.admin import payments, sales

__all__ = ["payments", "sales"]
