"""A URLconf with a view that raises whatever the test sets, for the database-outage page."""

from django.urls import include, path

raise_next: Exception = RuntimeError("set by the test")


def outage(request):
    raise raise_next


urlpatterns = [path("db-outage/", outage), path("", include("wetechnologies.urls"))]
handler500 = "wetech.views.errors.server_error"
