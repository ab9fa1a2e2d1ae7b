from django.apps import AppConfig

from watchkeeper import health


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        from .health import beat_status  # deferred: it imports the dashboard's models

        health.register("beat", beat_status, required=True)
