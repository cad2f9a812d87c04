"""The Celery application. Its configuration is the `CELERY_*` part of `cohort.settings`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cohort.settings")

app = Celery("cohort")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
