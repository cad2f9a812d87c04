from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "cohort.health"
    label = "health"
