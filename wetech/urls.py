from django.urls import path

from wetech.views import pages

urlpatterns = [
    path("", pages.home, name="home"),
]
