"""Payments: starting a payment, the inbox, settlement, reconciliation and the gateways."""
