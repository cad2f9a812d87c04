from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "cohort.ui"
    label = "ui"
    verbose_name = "Web page"
