"""Schema fuzzing: schemathesis generates requests from /api/schema/ and sends them to a live Cohort.

Every documented operation gets a bounded number of generated requests (valid and invalid ones),
sent as the staff user to gunicorn, with the worker behind it. Each answer must not be a 5xx, must
have a documented status and media type, and its body and headers must match the schema. Every
other generated path uuid is swapped for the uuid of a real object of that path, so operations reach
real records and not only 404s. Generation is derandomised so CI runs the same cases every time.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cohort.events.services import event_record
from tests.conftest import make_group

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

# Hypothesis keeps caches in ./.hypothesis by default: keep them in the suite's temporary home instead.
set_hypothesis_home_dir(django_settings.HOME / "hypothesis")

MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


GROUP_PATHS = ("{uuid}/", "{uuid}/pull/", "{uuid}/set_ok/", "{uuid}/set_erred/", "{uuid}/unlink/", "{uuid}/placement/",
               "{uuid}/heal/")  # fmt: skip


@pytest.fixture
def real_objects(world) -> dict[str, str]:
    """Path template -> the hex uuid of an object there that the staff user sees.

    Each server-group path has a group of its own, so that a delete or an unlink fuzzed on one
    path leaves the others something to act on."""
    from cohort.openstack.models import Instance

    objects = {
        f"/api/openstack-server-groups/{suffix}": make_group(
            world.tenant, f"fuzzed-{index}", policy="anti-affinity", rules={"max_server_per_host": 2}
        ).uuid.hex
        for index, suffix in enumerate(GROUP_PATHS)
    }
    group = make_group(world.tenant, "with-member", state="ERRED", error_message="boom")
    server = Instance.objects.create(tenant=world.tenant, server_group=group, name="vm", backend_id="vm-1")
    for route, obj in (
        ("openstack-tenants", world.tenant),
        ("openstack-instances", server),
        ("customers", world.acme),
        ("projects", world.web),
        ("service-settings", world.cloud),
    ):
        objects[f"/api/{route}/{{uuid}}/"] = obj.uuid.hex
    objects["/api/openstack-tenants/{uuid}/create_server_group/"] = world.tenant.uuid.hex
    objects["/api/openstack-tenants/{uuid}/pull_server_groups/"] = world.tenant.uuid.hex
    objects["/api/openstack-tenants/{uuid}/pull_quotas/"] = world.tenant.uuid.hex
    objects["/api/openstack-tenants/{uuid}/set_quotas/"] = world.tenant.uuid.hex
    with transaction.atomic():
        event = event_record(event_type="openstack_server_group_pulled", message="fuzzed", scope=group)
    objects["/api/events/{uuid}/"] = event.uuid.hex
    return objects


@pytest.fixture
def calls() -> Counter:
    return Counter()


@pytest.fixture
def cohort_schema(cohort):
    return schemathesis.openapi.from_url(f"{cohort.url}/api/schema/")


schema = schemathesis.pytest.from_fixture("cohort_schema")


def aim_at_real_objects(case, real_objects: dict[str, str], calls: Counter) -> None:
    """Every other case of an operation with a uuid in its path goes to the real object there."""
    path = case.operation.path
    calls[path] += 1
    if calls[path] % 2 and "uuid" in (case.path_parameters or {}):
        case.path_parameters["uuid"] = real_objects[path]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_keeps_the_schema(case, token, real_objects, calls):
    aim_at_real_objects(case, real_objects, calls)
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS, timeout=30)


# Values that once broke a filter somewhere, or could: NUL (PostgreSQL's text cannot hold it), numbers
# past what Python converts, LIKE's wildcards, quotes, very long text, floats out of range.
HOSTILE_VALUES = ("a\x00b", "\x00", "9" * 5000, "%", "_", "\\", "' OR '1'='1", "ü" * 3000, "-1", "1e999", "NaN")


def test_every_query_parameter_of_every_operation_takes_hostile_values(cohort_schema, token, real_objects):
    """Beside the generated cases: each query parameter the schema documents, of every operation,
    gets each of `HOSTILE_VALUES` alone. No 5xx, and every answer with a body is JSON."""
    headers = {"Authorization": f"Token {token}"}
    sent = Counter()
    for result in cohort_schema.get_all_operations():
        operation = result.ok()
        path_parameters = {"uuid": real_objects[operation.path]} if "{uuid}" in operation.path else None
        for parameter in operation.query:
            for value in HOSTILE_VALUES:
                case = operation.Case(query={parameter.name: value}, path_parameters=path_parameters)
                response = case.call(headers=headers, timeout=30)
                where = (operation.label, parameter.name, value[:20])
                assert response.status_code < 500, (where, response.status_code, response.text[:300])
                if response.content:
                    content_type = response.headers.get("content-type", [""])[0]  # schemathesis: lists
                    assert content_type.startswith("application/json"), (where, response.status_code, content_type)
                sent[operation.label] += 1
    assert len(sent) >= 15 and sum(sent.values()) >= 1000, sent  # list filters of every resource, not a few
