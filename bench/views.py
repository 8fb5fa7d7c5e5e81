"""Reference views: the least Django can do for each kind of page the site serves.

They run in the same gunicorn process as the site, behind the site's middleware, so the ratio
of a real page to its reference measures only what the page itself costs.
"""

import uuid
from datetime import timedelta
from decimal import Decimal

import requests
from django import forms
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from wetech.models.invoices import new_invoice_token
from wetech.money import quantize


def bare(request):
    return HttpResponse(b'{"status": "pass"}', content_type="application/json")


class _ComparableForm(forms.Form):
    name = forms.CharField(max_length=120)
    email = forms.EmailField()
    phone = forms.CharField(max_length=32)
    company = forms.CharField(max_length=120, required=False)
    message = forms.CharField(widget=forms.Textarea, max_length=5000, required=False)
    marketing_consent = forms.BooleanField(required=False)


def bare_form(request):
    """A page of comparable weight: the base template with a six-field form and a CSRF token."""
    return render(request, "bench/bare_form.html", {"form": _ComparableForm()})


@csrf_exempt
def bare_insert(request):
    """A POST that inserts one row in one transaction: the floor for POST /leads/."""
    Session.objects.create(
        session_key=uuid.uuid4().hex,
        session_data="x",
        expire_date=timezone.now(),
    )
    return HttpResponse(status=201)


# --- The business work by hand: what a lead and an IPN settlement cost without our code --------

_NUMBER_FORMAT = "WT-{year}-{sequence:05d}"
_status_session = requests.Session()


def _now_param():
    now = timezone.now()
    return now, connection.ops.adapt_datetimefield_value(now)


@csrf_exempt
def bare_lead(request):
    """The same rows as `POST /leads/` for a priced service, by hand, in one transaction:
    the client (found by email or phone, else inserted), the lead, the year's counter bumped,
    the issued invoice and its line. Raw SQL; no form, no rate limit, no email.
    """
    data = request.POST
    name, email, phone = data["name"], data["email"].lower(), data["phone"]
    company, message = data.get("company", ""), data.get("message", "")
    now, now_db = _now_param()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name, price, currency, price_note FROM wetech_service"
            " WHERE slug = %s AND active",
            [data["service"]],
        )
        service_id, service_name, price, currency, price_note = cursor.fetchone()
        cursor.execute(
            "SELECT id FROM wetech_client WHERE email = %s OR phone = %s ORDER BY id LIMIT 1",
            [email, phone],
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                "INSERT INTO wetech_client (name, email, phone, company, created_at)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                [name, email, phone, company, now_db],
            )
            row = cursor.fetchone()
        client_id = row[0]
        cursor.execute(
            "INSERT INTO wetech_lead (client_id, service_id, name, email, phone, company, tin,"
            " message, source_page, landing_page, referrer, utm_source, utm_medium,"
            " utm_campaign, utm_term, utm_content, marketing_consent, status, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, '', %s, %s, %s, '', '', '', '', '', '', %s,"
            " 'new', %s) RETURNING id",
            [client_id, service_id, name, email, phone, company, message, "", "", False, now_db],
        )
        lead_id = cursor.fetchone()[0]
        year = timezone.localtime(now).year
        cursor.execute(
            "INSERT INTO wetech_invoicecounter (year, last_number) VALUES (%s, 1)"
            " ON CONFLICT (year) DO UPDATE"
            " SET last_number = wetech_invoicecounter.last_number + 1 RETURNING last_number",
            [year],
        )
        sequence = cursor.fetchone()[0]
        subtotal = quantize(price)
        tax = quantize(subtotal * settings.INVOICE_TAX_RATE)
        token = new_invoice_token()
        due = timezone.localtime(now).date() + timedelta(days=settings.INVOICE_DUE_DAYS)
        decimal = connection.ops.adapt_decimalfield_value
        cursor.execute(
            "INSERT INTO wetech_invoice (number, token, client_id, lead_id, client_name,"
            " client_email, client_phone, client_company, client_tin, currency, subtotal,"
            " tax_rate, tax, total, status, issued_at, due_date, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', %s, %s, %s, %s, %s, 'issued', %s, %s,"
            " %s, %s) RETURNING id",
            [
                _NUMBER_FORMAT.format(year=year, sequence=sequence),
                token,
                client_id,
                lead_id,
                name,
                email,
                phone,
                company,
                currency,
                decimal(subtotal, 14, 2),
                decimal(settings.INVOICE_TAX_RATE, 5, 4),
                decimal(tax, 14, 2),
                decimal(subtotal + tax, 14, 2),
                now_db,
                connection.ops.adapt_datefield_value(due),
                now_db,
                now_db,
            ],
        )
        invoice_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO wetech_invoiceline (invoice_id, position, description, quantity,"
            " unit_price, amount) VALUES (%s, 1, %s, 1, %s, %s)",
            [
                invoice_id,
                f"{service_name} ({price_note})" if price_note else service_name,
                decimal(price, 14, 2),
                decimal(subtotal, 14, 2),
            ],
        )
    response = HttpResponseRedirect(f"/invoices/{token}/")
    response.status_code = 303
    return response


_ATTEMPT = (
    "SELECT id, invoice_id, amount, currency, status FROM wetech_paymentattempt"
    " WHERE gateway = 'pesapal' AND gateway_reference = %s"
)
# SQLite has no row locks: its one writer at a time serialises the settlement instead.
_ATTEMPT_LOCKED = _ATTEMPT + " FOR UPDATE"


@csrf_exempt
def bare_settlement(request):
    """An IPN settled by hand: the one status call to the gateway, then in one transaction the
    attempt locked and completed, the ledger entry (once per reference) and the invoice paid.
    Raw SQL; no inbox row, no judging, no flags, no email. Answers as Pesapal expects."""
    tracking_id = request.GET["OrderTrackingId"]
    answer = _status_session.get(
        f"{settings.PESAPAL_BASE_URL}/api/Transactions/GetTransactionStatus",
        params={"orderTrackingId": tracking_id},
        headers={"Authorization": "Bearer bench-token", "Accept": "application/json"},
        timeout=(3.05, 10),
    ).json()
    amount = Decimal(str(answer["amount"]))
    _now, now_db = _now_param()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _ATTEMPT_LOCKED if connection.features.has_select_for_update else _ATTEMPT,
            [tracking_id],
        )
        attempt_id, invoice_id, expected, currency, status = cursor.fetchone()
        if status == "pending" and Decimal(expected) == amount and currency == answer["currency"]:
            cursor.execute(
                "INSERT INTO wetech_ledgerentry (invoice_id, attempt_id, kind, amount, currency,"
                " gateway, gateway_reference, confirmation_code, created_at)"
                " VALUES (%s, %s, 'payment', %s, %s, 'pesapal', %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [
                    invoice_id,
                    attempt_id,
                    connection.ops.adapt_decimalfield_value(amount, 14, 2),
                    currency,
                    tracking_id,
                    answer["confirmation_code"],
                    now_db,
                ],
            )
            cursor.execute(
                "UPDATE wetech_paymentattempt SET status = 'completed', completed_at = %s,"
                " confirmation_code = %s, payment_method = %s, last_checked_at = %s,"
                " check_count = check_count + 1, updated_at = %s WHERE id = %s",
                [
                    now_db,
                    answer["confirmation_code"],
                    answer["payment_method"],
                    now_db,
                    now_db,
                    attempt_id,
                ],
            )
            cursor.execute(
                "UPDATE wetech_invoice SET status = 'paid', paid_at = %s, updated_at = %s"
                " WHERE id = %s",
                [now_db, now_db, invoice_id],
            )
    return JsonResponse(
        {
            "orderNotificationType": request.GET.get("OrderNotificationType", ""),
            "orderTrackingId": tracking_id,
            "orderMerchantReference": request.GET.get("OrderMerchantReference", ""),
            "status": 200,
        }
    )
