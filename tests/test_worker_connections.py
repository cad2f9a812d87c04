"""A worker's pool process keeps its database connection from one task to the next, as a web process
keeps it from one request to the next: Celery's Django fixup would otherwise close it around every task,
and each task would pay for a new connection on the way from a create to OK."""

from types import SimpleNamespace

import pytest
from celery import signals
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from cohort.celery import app

pytestmark = pytest.mark.django_db(transaction=True)  # autocommit, as in a worker


class Task:
    name = "t"

    def __init__(self, eager):
        self.request = SimpleNamespace(is_eager=eager)


def run_task_signals(eager=False):
    """What a worker sends around a task: Celery's fixup first (as it is connected), then Cohort's."""
    task = Task(eager)
    fixup = DjangoWorkerFixup(app)
    fixup.on_task_prerun(sender=task)
    signals.task_prerun.send(sender=task, task_id="1", task=task, args=(), kwargs={})
    fixup.on_task_postrun(sender=task)
    signals.task_postrun.send(sender=task, task_id="1", task=task, args=(), kwargs={}, retval=None, state="SUCCESS")


def test_a_task_keeps_the_connection_it_found():
    connection.ensure_connection()
    opened = connection.connection
    run_task_signals()
    assert connection.connection is opened


def test_a_connection_past_its_age_is_closed_around_a_task():
    connection.ensure_connection()
    connection.close_at = 0  # CONN_MAX_AGE ran out
    run_task_signals()
    assert connection.connection is None
