"""Settings: prod refuses to start without its secrets and passes check --deploy."""

from __future__ import annotations

import os
import subprocess

import pytest

from config.testing import PROD_REQUIRED, backend_python

PROD_ENV = {
    **PROD_REQUIRED,
    "DJANGO_SETTINGS_MODULE": "config.settings.prod",
    "PAYMENT_PROVIDERS": "sandbox",
    "SANDBOX_WEBHOOK_SECRET": "whsec_a_real_sandbox_secret",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in PROD_ENV and k != "REDIS_URL"}
    return backend_python("manage.py", *args, env={**base, **env}, timeout=120)


def test_check_deploy_passes_under_prod_settings() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"])
def test_prod_refuses_to_start_without(missing: str) -> None:
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_the_embedded_default_runs_tasks_eagerly_and_stores_their_results() -> None:
    """So the ops overview and /ops/ show task outcomes under ``make run`` too."""
    code = (
        "from workers.celery import app;"
        "from apps.ops.tasks import worker_probe_complete_task as t;"
        "print(app.conf.task_always_eager, t.store_eager_result)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.dev", "DATABASE_URL": "sqlite:///:memory:"}
    result = _manage("shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["True", "True"]
