"""The site's URLconf (with the simulators) plus views that fail, to show the 400, 500 and 503
pages in a browser. Under `i18n_patterns` too, so each page exists in both languages."""

from django.conf.urls.i18n import i18n_patterns
from django.core.exceptions import SuspiciousOperation
from django.db import OperationalError
from django.urls import path

from sandbox import site_urls as site


def _raises(exception: Exception):
    def view(request):
        raise exception

    return view


failing = [
    path("test-errors/400/", _raises(SuspiciousOperation("a bad request"))),
    path("test-errors/500/", _raises(RuntimeError("a bug"))),
    path("test-errors/503/", _raises(OperationalError("the database is away"))),
]

urlpatterns = [*i18n_patterns(*failing, prefix_default_language=False), *site.urlpatterns]

handler400 = site.handler400
handler403 = site.handler403
handler404 = site.handler404
handler500 = site.handler500
