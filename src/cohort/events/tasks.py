"""The periodic pruning of the event log (scheduled in `CELERY_BEAT_SCHEDULE`)."""

from celery import shared_task

from cohort.events.services import events_prune


@shared_task
def prune_events() -> int:
    return events_prune()
