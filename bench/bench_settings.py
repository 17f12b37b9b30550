"""Production settings plus a query-counting middleware: for the query-count step only.

The throughput scenarios run ``config.settings.prod`` unchanged; this module is
used by a separate short-lived gunicorn that answers each request with an
``X-Bench-Queries`` header (see ``querycount.py``). Needs ``bench/`` on the path.
"""

from config.settings.prod import *  # noqa: F403
from config.settings.prod import MIDDLEWARE

MIDDLEWARE = ["querycount.QueryCountMiddleware", *MIDDLEWARE]

# Count the queries of a computed product page: with the catalogue cache on, every
# request after the first would be a hit (no SQL at all) and say nothing.
CATALOG_CACHE_SECONDS = 0.0
