"""Production settings plus a query-counting middleware: for the query-count step only.

The throughput scenarios run ``config.settings.prod`` unchanged; this module is
used by a separate short-lived gunicorn that answers each request with an
``X-Bench-Queries`` header (see ``querycount.py``). Needs ``bench/`` on the path.
"""

from config.settings.prod import *  # noqa: F403
from config.settings.prod import MIDDLEWARE

MIDDLEWARE = ["querycount.QueryCountMiddleware", *MIDDLEWARE]
