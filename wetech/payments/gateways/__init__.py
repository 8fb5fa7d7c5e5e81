"""The payment gateways: one interface (`base.PaymentGateway`), one module per provider
(`pesapal`, `azampay`), the registry that names them, and the HTTP machinery they share
(`transport`, `retry`, `bulkhead`, `tokens`, `http`, `clients`).

The services import from `registry` and `base` only.
"""
