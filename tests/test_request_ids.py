"""Request ids on responses, on log lines (plain and JSON) and on the tasks a request queued."""

from __future__ import annotations

import json
import logging

import pytest

from cohort.core import logs, request_ids


def test_a_response_carries_a_fresh_id(client):
    first = client.get("/health/live")["X-Request-ID"]
    second = client.get("/health/live")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_the_clients_id_is_kept_when_sane(db, client):
    assert client.get("/api/", HTTP_X_REQUEST_ID="edge-4f2a:17.b_c")["X-Request-ID"] == "edge-4f2a:17.b_c"


@pytest.mark.parametrize("given", ["", "has space", "a\nforged log line", "x" * 129, "ünïcode", "<script>"])
def test_an_insane_id_is_replaced(client, given):
    returned = client.get("/health/live", HTTP_X_REQUEST_ID=given)["X-Request-ID"]
    assert returned != given and request_ids.SANE.fullmatch(returned)


def test_every_response_has_one_even_refused_ones(client, settings):
    settings.MAX_BODY_BYTES = 10
    response = client.post("/api/customers/", "x" * 100, content_type="application/json", HTTP_X_REQUEST_ID="big-1")
    assert response.status_code == 413 and response["X-Request-ID"] == "big-1"


def record(message: str = "hello %s", args=("world",), exc_info=None) -> logging.LogRecord:
    made = logging.LogRecord("cohort.test", logging.WARNING, __file__, 1, message, args, exc_info)
    logs.RequestIdFilter().filter(made)
    return made


def test_log_records_carry_the_current_id():
    assert record().request_id == "-"
    token = request_ids.current.set("abc-123")
    try:
        assert record().request_id == "abc-123"
    finally:
        request_ids.current.reset(token)


def test_json_lines():
    token = request_ids.current.set("abc-123")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            line = logs.JsonFormatter().format(record(exc_info=sys.exc_info()))
    finally:
        request_ids.current.reset(token)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "hello world" and parsed["level"] == "WARNING" and parsed["logger"] == "cohort.test"
    assert parsed["request_id"] == "abc-123" and parsed["timestamp"].endswith("+00:00")
    assert "ValueError: boom" in parsed["exception"]
    assert json.loads(logs.JsonFormatter().format(record()))["request_id"] is None


def test_log_lines_of_a_request_carry_its_id(world, api, caplog):
    caplog.handler.addFilter(logs.RequestIdFilter())
    with caplog.at_level(logging.WARNING):
        api(world.users.owner).get("/api/no-such-thing/", HTTP_X_REQUEST_ID="req-42")
    assert [r.request_id for r in caplog.records if r.name == "django.request"] == ["req-42"]


def test_a_queued_task_carries_the_id_to_the_worker():
    """What the worker sees: the header sent with the message, restored for the task's run only."""
    from celery import signals

    headers = {}
    token = request_ids.current.set("req-7")
    try:
        signals.before_task_publish.send(sender="t", headers=headers, body=None)
    finally:
        request_ids.current.reset(token)
    assert headers == {request_ids.TASK_HEADER: "req-7"}

    class Request:
        is_eager = False
        cohort_request_id = "req-7"

    class Task:
        request = Request()

    seen = []
    signals.task_prerun.send(sender=Task, task_id="1", task=Task)
    seen.append(request_ids.current.get())
    signals.task_postrun.send(sender=Task, task_id="1", task=Task, state="SUCCESS")
    assert seen == ["req-7"] and request_ids.current.get() is None
