"""The app's public URLs.

`urlpatterns` are the customer's pages: `wetechnologies/urls.py` serves them through
`i18n_patterns`, in English at these paths and in Kiswahili under `/sw/`. `gateway_urlpatterns`
are what the payment gateways call (Pesapal's browser return and IPN, AzamPay's callback): the
URLs registered with them, never prefixed and never translated.
"""

from django.urls import path, re_path

from wetech.views import invoices, leads, pages, payments

# Invoice tokens are URL-safe base64; anything else is a 404 before the database is asked.
INVOICE = r"^invoices/(?P<token>[A-Za-z0-9_-]{32,64})/"

urlpatterns = [
    path("", pages.home, name="home"),
    path("services/<slug:slug>/", pages.service_detail, name="service_detail"),
    path("contact/", pages.contact, name="contact"),
    path("leads/", leads.lead_create, name="lead_create"),
    path("leads/thanks/", pages.lead_thanks, name="lead_thanks"),
    re_path(rf"{INVOICE}$", invoices.invoice_detail, name="invoice_detail"),
    re_path(rf"{INVOICE}status/$", invoices.invoice_status, name="invoice_status"),
    re_path(rf"{INVOICE}pdf/$", invoices.invoice_pdf, name="invoice_pdf"),
    re_path(rf"{INVOICE}pay/pesapal/$", payments.pay_pesapal, name="pay_pesapal"),
    re_path(rf"{INVOICE}pay/azampay/$", payments.pay_azampay, name="pay_azampay"),
]

gateway_urlpatterns = [
    path("payments/pesapal/callback/", payments.pesapal_callback, name="pesapal_callback"),
    path("payments/pesapal/ipn/", payments.pesapal_ipn, name="pesapal_ipn"),
    path(
        "payments/azampay/callback/<str:secret>/",
        payments.azampay_callback,
        name="azampay_callback",
    ),
]
