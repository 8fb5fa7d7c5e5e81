"""The visitor's language where Django's LocaleMiddleware leaves it to us.

English has no URL prefix (`prefix_default_language=False`), so Django takes the language from the
path alone: `/sw/...` is Kiswahili and every unprefixed path is English, whatever the browser or
the language cookie says. Two cases need more, and this middleware (right after LocaleMiddleware)
adds them:

- `GET /`, the front door: a visitor whose language cookie says Kiswahili, or who has no cookie
  and whose browser prefers Kiswahili (`Accept-Language`), is sent to `/sw/` (302). The answer
  depends on both headers, so it says `Vary: Accept-Language, Cookie` (redirect or not), and a
  shared cache never hands one visitor's language to another.
- A JSON client (`Accept: application/json`) on an unprefixed path is answered in its
  `Accept-Language`: messages and suggestions of the contract's errors, and the language stored
  with the lead it sends. The error `code`s never change. The language is switched on once the URL
  is resolved (`process_view`): unprefixed routes only match while English is active.
"""

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from wetech.views.errors import accept_language, wants_json

ROOT_PATH = "/"


def _front_door_language(request) -> str:
    """The language the home page should open in: the cookie's choice, else the browser's."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if chosen and translation.check_for_language(chosen):
        try:
            return translation.get_supported_language_variant(chosen)
        except LookupError:
            pass
    return accept_language(request)


class LanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        at_front_door = request.path_info == ROOT_PATH and request.method in ("GET", "HEAD")
        response = None
        if at_front_door and not wants_json(request):
            language = _front_door_language(request)
            if language != settings.LANGUAGE_CODE:
                with translation.override(language):
                    target = reverse("home")
                query = request.META.get("QUERY_STRING", "")
                response = HttpResponseRedirect(f"{target}?{query}" if query else target)
        if response is None:
            response = self.get_response(request)
        if at_front_door:
            patch_vary_headers(response, ("Accept-Language", "Cookie"))
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if wants_json(request) and not translation.get_language_from_path(request.path_info):
            translation.activate(accept_language(request))
            request.LANGUAGE_CODE = translation.get_language()
        return None
