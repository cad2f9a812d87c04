"""Request ids: one id per API request, on its response, on its log lines and on the tasks it queued.

The id is the client's `X-Request-ID` when it looks like an id (at most 128 characters of letters,
digits and `._:-`; anything else could forge or flood log lines), else a fresh UUID. It lives in a
context variable for the request's duration, so `cohort.core.logs.RequestIdFilter` can put it on every
record. A task queued while it is set carries it in its message headers (`before_task_publish`), and
the worker restores it for the task's run (`task_prerun`, `task_postrun`), so the log lines of work a
request caused carry the request's id, across processes and machines.
"""

from __future__ import annotations

import contextvars
import re
import uuid

from celery import signals
from django.core.signals import request_finished
from django.dispatch import receiver

HEADER = "X-Request-ID"
TASK_HEADER = "cohort_request_id"
SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def from_client(value: str | None) -> str:
    """The client's id when it is sane, else a new one."""
    if value and SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


def request_id_middleware(get_response):
    def middleware(request):
        request_id = from_client(request.headers.get(HEADER))
        current.set(request_id)
        response = get_response(request)
        response[HEADER] = request_id
        return response

    return middleware


# Kept until the response is closed, not only while the middleware runs: Django logs a 4xx or 5xx
# response ("Not Found: ...") after the last middleware has returned.
@receiver(request_finished)
def _forget_after_response(**kwargs) -> None:
    current.set(None)


@signals.before_task_publish.connect
def _send_with_task(headers=None, **kwargs) -> None:
    request_id = current.get()
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


_tokens: dict[str, contextvars.Token] = {}


@signals.task_prerun.connect
def _restore_in_worker(task_id=None, task=None, **kwargs) -> None:
    # An eager task runs inside the request that queued it, and keeps its id.
    if task is None:
        return
    request_id = getattr(task.request, TASK_HEADER, None)
    if request_id or not task.request.is_eager:
        _tokens[task_id] = current.set(request_id if request_id and SANE.fullmatch(request_id) else None)


@signals.task_postrun.connect
def _forget_in_worker(task_id=None, **kwargs) -> None:
    token = _tokens.pop(task_id, None)
    if token is not None:
        current.reset(token)
