"""Cohort: a control plane for OpenStack server groups."""

from cohort.celery import app as celery_app

__all__ = ["celery_app"]
