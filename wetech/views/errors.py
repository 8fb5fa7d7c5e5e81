"""Error pages and the rate-limit answer. They never show a traceback, a path or a secret."""

import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.csrf import requires_csrf_token

RETRY_AFTER_SECONDS = 60
# The database refusing or dropping connections is an outage that passes, not a bug in a page:
# answer 503 with Retry-After so people, clients and load balancers come back instead of giving up.
DATABASE_OUTAGES = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER_SECONDS = 30
# Error pages never show the path, nor anything that differs between two answers to the same
# error (a refused callback answers exactly like an unknown URL): the header's language switcher
# is then a plain link to the other language's home page, not a form with a CSRF token.
ERROR_PAGE = {"is_error_page": True}


def wants_json(request) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    return "application/json" in accept and "text/html" not in accept


def accept_language(request) -> str:
    """The site's language that the request's `Accept-Language` prefers most (English when it
    names none of ours)."""
    for language, _quality in parse_accept_lang_header(
        request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    ):
        if language == "*":
            break
        try:
            return translation.get_supported_language_variant(language)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def response_language(request) -> str:
    """The language an answer to this request speaks: the /sw/ prefix, else a JSON client's
    Accept-Language, else English (the language middleware activates the same one; an error
    raised before a view ran, such as a 404, is answered by this rule too)."""
    from_path = translation.get_language_from_path(request.path_info)
    if from_path:
        return from_path
    if wants_json(request):
        return accept_language(request)
    return translation.get_language() or settings.LANGUAGE_CODE


def error_payload(request, *, code, message, suggestions=(), **extra) -> dict:
    """The one JSON error shape of the contract ("Errors for JSON clients"): `message` and
    `suggestions` in the client's language (they may be lazy translations), `code` never."""
    with translation.override(response_language(request)):
        error = {
            "code": code,
            "message": str(message),
            "suggestions": [str(suggestion) for suggestion in suggestions],
            "request_id": getattr(request, "request_id", None),
        }
    error.update({key: value for key, value in extra.items() if value is not None})
    return {"error": error}


def _page(request, template, status, *, code, message, suggestions=()):
    if wants_json(request):
        return JsonResponse(
            error_payload(request, code=code, message=message, suggestions=suggestions),
            status=status,
        )
    return render(
        request,
        template,
        {"message": message, "suggestions": suggestions, **ERROR_PAGE},
        status=status,
    )


def rate_limited(request, exception=None):
    message = _("You have sent too many requests in a short time.")
    suggestions = [
        _("Wait a minute and try again."),
        _("Or call us: we are happy to help by phone."),
    ]
    if wants_json(request):
        response = JsonResponse(
            error_payload(
                request,
                code="rate_limited",
                message=message,
                suggestions=suggestions,
                retry_after=RETRY_AFTER_SECONDS,
            ),
            status=429,
        )
    else:
        response = render(
            request,
            "429.html",
            {
                "message": message,
                "suggestions": suggestions,
                "retry_after": RETRY_AFTER_SECONDS,
                **ERROR_PAGE,
            },
            status=429,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' answer once a username is locked from this address (AXES_LOCKOUT_CALLABLE)."""
    retry_after = int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = "Too many failed sign-ins for this username from your address."
    suggestions = [
        f"Wait {retry_after // 60} minutes and try again.",
        "Or ask another administrator to unlock it.",
    ]
    response = render(
        request,
        "429.html",
        {"message": message, "suggestions": suggestions, "retry_after": retry_after, **ERROR_PAGE},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


@requires_csrf_token
def bad_request(request, exception=None):
    return _page(
        request,
        "400.html",
        400,
        code="bad_request",
        message=_("We could not understand that request."),
        suggestions=[_("Go back, reload the page and try again.")],
    )


@requires_csrf_token
def permission_denied(request, exception=None):
    return _page(
        request,
        "403.html",
        403,
        code="forbidden",
        message=_("You are not allowed to do that."),
        suggestions=[_("If you were filling in a form, reload the page and send it again.")],
    )


def csrf_failure(request, reason=""):
    return _page(
        request,
        "403.html",
        403,
        code="csrf_failed",
        message=_("Your form expired or came from another site, so we did not accept it."),
        suggestions=[_("Reload the page and send the form again.")],
    )


@requires_csrf_token
def page_not_found(request, exception=None):
    return _page(
        request,
        "404.html",
        404,
        code="not_found",
        message=_("We could not find that page."),
        suggestions=[_("Check the address, or start again from the home page.")],
    )


def service_unavailable(request):
    """The database is out of reach (Django has already logged the error with its traceback)."""
    message = _("The site is briefly unavailable while we fix a problem on our side.")
    suggestions = [
        _("Please try again in a minute."),
        _(
            "If you were paying, reload the invoice page to see where it stands before paying "
            "again."
        ),
    ]
    if wants_json(request):
        response = JsonResponse(
            error_payload(
                request,
                code="service_unavailable",
                message=message,
                suggestions=suggestions,
                retry_after=DATABASE_RETRY_AFTER_SECONDS,
            ),
            status=503,
        )
    else:
        response = render(
            request,
            "503.html",
            {"message": message, "suggestions": suggestions, **ERROR_PAGE},
            status=503,
        )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


@requires_csrf_token
def server_error(request):
    # Django calls this handler while handling the exception, so it is still the current one.
    if isinstance(sys.exc_info()[1], DATABASE_OUTAGES):
        return service_unavailable(request)
    return _page(
        request,
        "500.html",
        500,
        code="server_error",
        message=_("Something went wrong on our side."),
        suggestions=[_("Please try again in a minute."), _("If it keeps happening, contact us.")],
    )
