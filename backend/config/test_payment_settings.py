"""Payment provider configuration that cannot be wrong in production."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.checks import payment_provider_settings_check
from config.testing import PROD_REQUIRED, backend_python

KEYS = {
    "sandbox_secret": "whsec_s",
    "stripe_api_key": "sk_live_x",
    "stripe_webhook_secret": "whsec_x",
}


@pytest.mark.parametrize(
    ("providers", "missing", "named"),
    [
        (["stripe"], "stripe_api_key", "STRIPE_API_KEY"),
        (["sandbox", "stripe"], "stripe_webhook_secret", "STRIPE_WEBHOOK_SECRET"),
        (["sandbox"], "sandbox_secret", "SANDBOX_WEBHOOK_SECRET"),
    ],
)
def test_a_provider_without_its_keys_is_refused(
    providers: list[str], missing: str, named: str
) -> None:
    keys = {**KEYS, missing: "  "}
    with pytest.raises(ImproperlyConfigured, match=named):
        payment_provider_settings_check(providers, **keys)


def test_an_unknown_provider_is_refused_and_complete_keys_pass() -> None:
    with pytest.raises(ImproperlyConfigured, match="unknown provider"):
        payment_provider_settings_check(["paypal"], **KEYS)
    payment_provider_settings_check(["sandbox", "stripe"], **KEYS)
    payment_provider_settings_check(["stripe"], **{**KEYS, "sandbox_secret": ""})


def _settings_value(module: str, name: str, **env: str) -> str:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "PAYMENT_", "SANDBOX_")) and k != "DJANGO_SETTINGS_MODULE"
    }
    script = (
        f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    )
    result = backend_python(
        "-c", script, env={**base, "DJANGO_SETTINGS_MODULE": module, **env}, timeout=60
    )
    return result.stdout.strip() + result.stderr[-400:]


def test_prod_refuses_to_start_with_stripe_enabled_and_no_keys() -> None:
    out = _settings_value(
        "config.settings.prod", "PAYMENT_PROVIDERS", PAYMENT_PROVIDERS="stripe", **PROD_REQUIRED
    )
    assert "ImproperlyConfigured" in out
    assert "STRIPE_API_KEY" in out


def test_prod_enables_only_stripe_unless_the_sandbox_is_named() -> None:
    keys = {"STRIPE_API_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x", **PROD_REQUIRED}
    assert _settings_value("config.settings.prod", "PAYMENT_PROVIDERS", **keys) == "['stripe']"
    named = _settings_value(
        "config.settings.prod",
        "PAYMENT_PROVIDERS",
        PAYMENT_PROVIDERS="sandbox",
        SANDBOX_WEBHOOK_SECRET="whsec_bench_x",
        **PROD_REQUIRED,
    )
    assert named == "['sandbox']"


def test_dev_enables_stripe_only_with_its_keys() -> None:
    assert _settings_value("config.settings.dev", "PAYMENT_PROVIDERS") == "['sandbox']"
    with_keys = _settings_value(
        "config.settings.dev",
        "PAYMENT_PROVIDERS",
        STRIPE_API_KEY="sk_test_x",
        STRIPE_WEBHOOK_SECRET="whsec_x",
    )
    assert with_keys == "['sandbox', 'stripe']"
