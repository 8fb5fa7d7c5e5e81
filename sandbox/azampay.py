"""Simulated AzamPay: token, MNO push and status (shared/docs/gateways.md Part B).

The simulated phone answers a push after SIMULATOR_AZAMPAY_DELAY_SECONDS and AzamPay's
callback (the captured field set) is POSTed to
`{SITE_URL}/payments/azampay/callback/<the first AZAMPAY_CALLBACK_SECRET>/`. Failure rules by
payer number: ending in 000 declines with `transactionstatus: failure` (the documented word),
ending in 001 declines with `failed` (the official plugin's word: both are seen in the wild);
ending in 999 never answers (no callback; status stays pending).
"""

import hmac
import re
import secrets
import time
import uuid

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sandbox import credentials, state
from sandbox.delivery import in_background, send
from wetech import json_input
from wetech.callback_auth import azampay_callback_url

TOKEN_SECONDS = 3600
PROVIDERS = ("Airtel", "Tigo", "Halopesa", "Azampesa", "Mpesa")
# Payer numbers by their last digits: the word AzamPay's callback carries for a decline.
DECLINE_WORDS = {"000": "failure", "001": "failed"}
SILENT_SUFFIX = "999"
_MSISDN = re.compile(r"255(?:6[1-9]|7[1-8])\d{7}")


def _problem(errors: dict) -> JsonResponse:
    """ASP.NET's validation problem document, as AzamPay answers a bad body."""
    return JsonResponse(
        {
            "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
            "errors": errors,
        },
        status=400,
        content_type="application/problem+json",
    )


def _unauthorised() -> JsonResponse:
    return JsonResponse(
        {"message": "Please Provide Valid Authorization", "status": "Error"}, status=401
    )


def _body(request) -> dict:
    try:
        payload = json_input.loads(request.body or b"null")
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _authorised(request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token) and bool(state.load("azampay-token", token))


def _same(given, expected: str) -> bool:
    return hmac.compare_digest(str(given or ""), expected)


def _callback_url() -> str:
    # The registered URL: the first secret of AZAMPAY_CALLBACK_SECRET's comma list.
    return azampay_callback_url()


@csrf_exempt
@require_POST
def generate_token(request):
    body = _body(request)
    missing = {
        name: [f"The {name} field is required."]
        for name in ("appName", "clientId", "clientSecret")
        if not body.get(name)
    }
    if missing:
        return _problem(missing)
    if not (
        _same(body["appName"], credentials.AZAMPAY_APP_NAME)
        and _same(body["clientId"], credentials.AZAMPAY_CLIENT_ID)
        and _same(body["clientSecret"], credentials.AZAMPAY_CLIENT_SECRET)
    ):
        return JsonResponse(
            {
                "data": None,
                "message": (
                    "Provided detail is not valid for this app or secret key has been expired"
                ),
                "success": False,
                "statusCode": 423,
            },
            status=423,
        )
    token = secrets.token_urlsafe(48)
    state.save("azampay-token", token, value=True, timeout=TOKEN_SECONDS)
    return JsonResponse(
        {
            "data": {
                "accessToken": token,
                "expire": state.later(TOKEN_SECONDS).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "message": "Token generated successfully",
            "success": True,
            "statusCode": 200,
        }
    )


def _checkout_errors(body: dict) -> dict:
    errors = {}
    if not _MSISDN.fullmatch(str(body.get("accountNumber") or "")):
        errors["accountNumber"] = ["The accountNumber must be a valid 255XXXXXXXXX number."]
    if not re.fullmatch(r"[1-9]\d{0,11}", str(body.get("amount") or "")):
        errors["amount"] = ["The amount must be a positive whole number string."]
    if body.get("currency") != "TZS":
        errors["currency"] = ["Only TZS is supported."]
    external_id = str(body.get("externalId") or "")
    if not external_id or len(external_id) > 128:
        errors["externalId"] = ["The externalId field is required (max 128 characters)."]
    if body.get("provider") not in PROVIDERS:
        errors["provider"] = [f"The provider must be one of {', '.join(PROVIDERS)}."]
    return errors


def _callback_payload(txn: dict) -> dict:
    """The captured real callback's field set (gateways.md B6)."""
    return {
        "message": txn["message"],
        "transactionstatus": txn["status"],
        "operator": txn["provider"],
        "reference": txn["id"],
        "externalreference": txn["id"],
        "transid": txn["id"],
        "utilityref": txn["external_id"],
        "amount": txn["amount"],
        "msisdn": txn["msisdn"],
        "mnoreference": txn.get("mno_reference", ""),
    }


def _finish(txn_id: str, *, status: str, message: str) -> dict:
    return state.update(
        "azampay-txn",
        txn_id,
        change=lambda txn: {
            **txn,
            "status": status,
            "message": message,
            "mno_reference": f"SIM{secrets.token_hex(5).upper()}",
        },
    )


def _answer_phone(txn_id: str, *, delay: float, callback_url: str) -> None:
    """Run on a background thread: the payer decides, then AzamPay calls the merchant back."""
    txn = state.load("azampay-txn", txn_id)
    if txn is None or txn["msisdn"].endswith(SILENT_SUFFIX):
        return
    decline_word = DECLINE_WORDS.get(txn["msisdn"][-3:])

    def job():
        time.sleep(delay)
        finished = _finish(
            txn_id,
            status=decline_word or "success",
            message="The customer declined the payment" if decline_word else "success",
        )
        send("azampay callback", "POST", callback_url, json=_callback_payload(finished))

    in_background(job, name="azampay-callback")


@csrf_exempt
@require_POST
def mno_checkout(request):
    if not _authorised(request):
        return _unauthorised()
    body = _body(request)
    errors = _checkout_errors(body)
    if errors:
        return _problem(errors)
    txn_id = uuid.uuid4().hex
    state.save(
        "azampay-txn",
        txn_id,
        value={
            "id": txn_id,
            "external_id": body["externalId"],
            "amount": body["amount"],
            "msisdn": body["accountNumber"],
            "provider": body["provider"],
            "status": "pending",
            "message": "",
        },
    )
    _answer_phone(
        txn_id,
        delay=settings.SIMULATOR_AZAMPAY_DELAY_SECONDS,
        callback_url=_callback_url(),
    )
    return JsonResponse(
        {
            "success": True,
            "transactionId": txn_id,
            "message": "Your request has been received and is being processed.",
        }
    )


@require_GET
def transaction_status(request):
    if not _authorised(request):
        return _unauthorised()
    txn = state.load("azampay-txn", request.GET.get("transactionId", ""))
    if txn is None:
        return JsonResponse(
            {
                "data": None,
                "message": "Transaction not found.",
                "success": False,
                "statusCode": 404,
            },
            status=404,
        )
    word = {"success": "success", "failure": "failed", "failed": "failed"}.get(
        txn["status"], "pending"
    )
    return JsonResponse(
        {"data": word, "message": "Request successful.", "success": True, "statusCode": 200}
    )
