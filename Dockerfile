# syntax=docker/dockerfile:1
# The storefront image: gunicorn by default; the same image runs the Celery worker and beat
# (docker-compose.yml). Dependencies come from requirements-prod.lock (the runtime part of
# requirements.lock, pinned with hashes), static files are collected at build time, and
# everything runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the locked runtime dependencies ----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements-prod.lock /tmp/requirements-prod.lock
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-deps --require-hashes -r /tmp/requirements-prod.lock

# --- runtime: the code, its static files, a non-root user --------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.prod \
    WEB_CONCURRENCY=2
RUN groupadd --system --gid 10001 storefront \
    && useradd --system --uid 10001 --gid storefront --no-create-home --home-dir /app storefront
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY backend/ backend/
WORKDIR /app/backend
# Base settings need no secrets; the collected files are the same under every module.
RUN DJANGO_SETTINGS_MODULE=config.settings.base python manage.py collectstatic --noinput -v0
# The compose metrics volume takes this directory's owner when it is first created.
RUN mkdir -p /var/lib/storefront-metrics && chown 10001:10001 /var/lib/storefront-metrics
USER 10001:10001
EXPOSE 8000
# /healthz answers without the database; keep 127.0.0.1 in ALLOWED_HOSTS for it.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# gunicorn in prometheus-client multiprocess mode. Without PROMETHEUS_MULTIPROC_DIR set, a
# private directory emptied at each start; compose sets it to a volume shared with the
# worker (so /metrics has the task metrics) and empties it in its one-off migrate job.
CMD ["sh", "-c", "if [ -z \"$PROMETHEUS_MULTIPROC_DIR\" ]; then export PROMETHEUS_MULTIPROC_DIR=/tmp/storefront-prometheus; rm -rf \"$PROMETHEUS_MULTIPROC_DIR\"; fi; mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec gunicorn config.wsgi --bind 0.0.0.0:8000 --workers \"$WEB_CONCURRENCY\" --access-logfile - --timeout 30"]
