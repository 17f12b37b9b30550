from django.apps import AppConfig


class PricingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.pricing"

    def ready(self) -> None:
        from apps.pricing.reference import connect_signals

        connect_signals()  # the rule tables' writes bump their per-process copies
