"""WSGI entry point: `gunicorn wetechnologies.wsgi` (see gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wetechnologies.settings")

application = get_wsgi_application()
