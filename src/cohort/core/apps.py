from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cohort.core"
    label = "core"

    def ready(self) -> None:
        # Make the Celery app the current one in every Django process (web, worker, commands), so
        # that `task.delay()` sends to the configured broker.
        import cohort.celery  # noqa: F401
