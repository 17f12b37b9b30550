"""WSGI entry point of the baseline project (``gunicorn baseline.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "baseline.settings")

application = get_wsgi_application()
