"""WSGI entry point for gunicorn. Telemetry is set up once per process.

Once the application is loaded, the URLconf (and with it every view) is imported and
everything loaded so far is frozen out of the garbage collector's sight (``gc.freeze``,
the standard library's way for pre-forked servers): a full collection then walks only the
objects requests made, not the ~140,000 of the loaded project: garbage collection fell
from 2.2-2.4 ms to 0.6 ms per S2 order (``bench/profile.md``, row "start-up objects
frozen").
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

application = get_wsgi_application()

get_resolver().url_patterns  # noqa: B018  (imports the URLconf and the views now)
gc.freeze()
