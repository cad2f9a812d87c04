from django.apps import AppConfig


class StructureConfig(AppConfig):
    name = "cohort.structure"
    label = "structure"
