from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cohort.core"
    label = "core"
