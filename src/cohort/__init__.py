"""Cohort: a control plane for OpenStack server groups.

The Celery app (`cohort.celery`) is loaded by `cohort.core`'s app config when Django starts, not here,
so that `cohort.cloud` and `cohort_lab` can be imported without Django or Celery.
"""
