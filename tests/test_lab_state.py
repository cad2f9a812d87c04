"""The lab's kept state and the stamp binding it to a Cohort database (no lab started here).

`cohort serve` checks, before it starts the lab, that the lab's kept state (COHORT_HOME/lab) and this
database's records of it can both be true; the check and `--reset-lab`'s forgetting are tested here
on records and files alone. The restart itself is tested against the real lab in test_lab_restart.py.
"""

import pytest

import cohort_lab
from cohort.core.states import State
from cohort.embedded import demo
from cohort.openstack.models import Instance, ServerGroup
from tests.conftest import make_group

LAB_URL = "http://127.0.0.1:5000/v3"


@pytest.fixture
def lab_cloud(db):
    """The demo records as serve makes them on the lab, with one group and its server."""
    from cohort.cloud.base import CloudAccess

    access = CloudAccess(
        auth_url=LAB_URL,
        project_id="3f2c",
        credentials={"username": "demo", "password": "pw", "user_domain_name": "Default"},
        region="RegionOne",
    )
    records = demo.bootstrap(access)
    group = make_group(records["tenant"], "web", state=State.OK, backend_id="nova-web")
    Instance.objects.create(tenant=records["tenant"], server_group=group, backend_id="vm-1", status="ACTIVE")
    return records


def make_state(lab_dir):
    (lab_dir / "nova").mkdir(parents=True)
    (lab_dir / "nova" / "nova_api.sqlite").write_bytes(b"")


def test_state_files_stamp_and_reset(tmp_path):
    lab_dir = tmp_path / "lab"
    assert not cohort_lab.has_state(lab_dir) and cohort_lab.read_stamp(lab_dir) == ""
    make_state(lab_dir)
    cohort_lab.write_stamp(lab_dir, "abc")
    assert cohort_lab.has_state(lab_dir) and cohort_lab.read_stamp(lab_dir) == "abc"
    (lab_dir / "clouds.yaml").write_text("{}")
    cohort_lab.reset_state(lab_dir)
    assert not cohort_lab.has_state(lab_dir) and cohort_lab.read_stamp(lab_dir) == ""
    assert (lab_dir / "clouds.yaml").exists()  # only the kept state goes


def test_a_lab_stamped_by_this_database_matches(lab_cloud, tmp_path):
    make_state(tmp_path)
    assert demo.lab_mismatch(tmp_path, lab_cloud["cloud"].uuid.hex, True) == ""


def test_a_fresh_lab_and_a_fresh_database_match(db, tmp_path):
    assert demo.lab_mismatch(tmp_path, "", False) == ""


def test_a_lab_stamped_by_another_database_is_refused(lab_cloud, tmp_path):
    problem = demo.lab_mismatch(tmp_path, "0123abcd", True)
    assert "belongs to another Cohort database" in problem and "0123abcd" in problem
    assert lab_cloud["cloud"].uuid.hex in problem and "--reset-lab" in problem


def test_a_lab_without_a_stamp_is_refused(lab_cloud, tmp_path):
    problem = demo.lab_mismatch(tmp_path, "", True)
    assert "carries no stamp" in problem and "--reset-lab" in problem


def test_a_kept_lab_with_a_new_database_is_refused(db, tmp_path):
    problem = demo.lab_mismatch(tmp_path, "0123abcd", True)
    assert "this database has no demo cloud yet" in problem


def test_records_of_a_lab_that_is_gone_are_refused_not_reconciled_away(lab_cloud, tmp_path):
    problem = demo.lab_mismatch(tmp_path, "", False)
    assert "1 server group(s) of the lab" in problem and "reconciliation would delete them" in problem
    assert ServerGroup.objects.count() == 1  # nothing was touched


def test_reset_lab_forgets_the_records_of_the_labs_groups_and_keeps_the_tenant(lab_cloud, tmp_path):
    assert demo.forget_lab_records() == (1, 1)
    assert not ServerGroup.objects.exists() and not Instance.objects.exists()
    assert lab_cloud["tenant"].__class__.objects.filter(pk=lab_cloud["tenant"].pk).exists()
    assert demo.lab_mismatch(tmp_path, "", False) == ""


def test_in_memory_demo_records_are_not_the_labs(db, tmp_path):
    records = demo.bootstrap(None)
    make_group(records["tenant"], "mem", state=State.OK, backend_id="m-1")
    assert demo.lab_mismatch(tmp_path, "", False) == ""
    assert demo.forget_lab_records() == (0, 0)


def test_the_application_credential_tenants_groups_are_the_labs_too(lab_cloud, tmp_path):
    from cohort.cloud.base import CloudAccess

    credentials = {"application_credential_id": "ac1", "application_credential_secret": "s"}
    app = CloudAccess(auth_url=LAB_URL, project_id="9e1a", auth_type="v3applicationcredential", credentials=credentials)
    records = demo.bootstrap(None, app_access=None)  # in memory: no second tenant
    assert "app_tenant" not in records
    records = demo.bootstrap(None, app_access=app)
    assert records["app_tenant"].service_settings.auth_type == "v3applicationcredential"
    assert demo.previous_application_credential() == "ac1"
    make_group(records["app_tenant"], "ac-web", state=State.OK, backend_id="nova-ac")
    assert demo.forget_lab_records() == (1, 0)  # the demo cloud is in memory now; the second is on the lab
