from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "cohort.metrics"
    label = "metrics"

    def ready(self) -> None:
        from cohort.metrics import task_runs  # noqa: F401 (connects the Celery signals it counts by)
