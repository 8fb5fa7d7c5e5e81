"""WeTech: the company site, leads, invoices and payments."""

__version__ = "0.1.0"
