"""WSGI entry point for gunicorn: `cohort web` serves `cohort.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cohort.settings")
application = get_wsgi_application()
