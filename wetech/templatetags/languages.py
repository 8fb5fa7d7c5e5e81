"""The header's language switcher: `{% language_switch as switch %}` gives the other language
(`switch.code`, `switch.name`) and `switch.next`, this same page in it, for a form that posts to
Django's `set_language` (which remembers the choice in the language cookie). On an error page
(`is_error_page` in the context) `switch.form` is False and `switch.next` is the other language's
home page, for a plain link."""

from django import template
from django.conf import settings
from django.urls import reverse, translate_url
from django.utils import translation

register = template.Library()


def _other_language(current: str) -> tuple[str, str]:
    for code, name in settings.LANGUAGES:
        if code != current:
            return code, name
    return current, dict(settings.LANGUAGES)[current]


@register.simple_tag(takes_context=True)
def language_switch(context) -> dict:
    """The other language and where to land in it.

    The page is the request's own path with its query string, or `page_path` when the view names
    another one (a form re-rendered after a POST is the page the form was on, not the URL it was
    posted to). A page with no twin in the other language (an unknown path) lands on the home page.
    """
    code, name = _other_language(translation.get_language() or settings.LANGUAGE_CODE)
    if context.get("is_error_page"):
        # Never the path (it may hold a token), never a form (the page must not vary).
        with translation.override(code):
            return {"code": code, "name": name, "next": reverse("home"), "form": False}
    request = context.get("request")
    page = context.get("page_path")
    if not page and request is not None and request.method in ("GET", "HEAD"):
        page = request.get_full_path()
    target = translate_url(page, code) if page else ""
    if not target or target == page:
        with translation.override(code):
            target = reverse("home")
    return {"code": code, "name": name, "next": target, "form": True}
