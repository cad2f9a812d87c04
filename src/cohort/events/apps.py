from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "cohort.events"
    label = "events"

    def ready(self) -> None:
        from cohort.events import receivers  # noqa: F401  (connects the sign-in receivers)
