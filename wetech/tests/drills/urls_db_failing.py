"""A URLconf with a view that raises whatever the test sets, for the database-outage page."""

from django.urls import path

from wetechnologies import urls as site

raise_next: Exception = RuntimeError("set by the test")


def outage(request):
    raise raise_next


urlpatterns = [path("db-outage/", outage), *site.urlpatterns]
handler500 = "wetech.views.errors.server_error"
