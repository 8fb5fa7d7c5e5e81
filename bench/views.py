"""Reference views: the least Django can do for each kind of page the site serves.

They run in the same gunicorn process as the site, behind the site's middleware, so the ratio
of a real page to its reference measures only what the page itself costs.
"""

import uuid

from django import forms
from django.contrib.sessions.models import Session
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt


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
