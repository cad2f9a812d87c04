from django.apps import AppConfig


class EmbeddedConfig(AppConfig):
    name = "cohort.embedded"
    label = "embedded"
    verbose_name = "Embedded default"
