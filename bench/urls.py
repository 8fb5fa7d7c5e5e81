"""The site's URLs plus the reference views the benchmark compares against."""

from django.urls import path

from bench import views
from wetechnologies import urls as site

urlpatterns = [
    path("bench/bare/", views.bare, name="bench-bare"),
    path("bench/bare-form/", views.bare_form, name="bench-bare-form"),
    path("bench/bare-insert/", views.bare_insert, name="bench-bare-insert"),
    path("bench/bare-lead/", views.bare_lead, name="bench-bare-lead"),
    path("bench/bare-settlement/", views.bare_settlement, name="bench-bare-settlement"),
    *site.urlpatterns,
]
