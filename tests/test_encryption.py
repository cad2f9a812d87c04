"""Cloud credentials at rest: only tokens in the database, the same dicts in Python, the migration
that encrypts old rows, key rotation, the key file, and clear errors under a wrong key."""

import re
import stat
import threading
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core import serializers
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.views.debug import SafeExceptionReporterFilter

from cohort.core.encryption import CredentialsKeyError, EncryptedJSONField, Sealed, encrypted_fields
from cohort.openstack import steps
from cohort.openstack.models import Tenant
from cohort.settings import credentials_keys
from cohort.structure.models import ServiceSettings
from tests.conftest import make_group

SECRET = "s3cret-Pa55!"


def raw_credentials(model, pk) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CAST(credentials AS TEXT) FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def decrypts_with(key: str, token: str) -> bool:
    try:
        Fernet(key).decrypt(token.encode())
    except Exception:
        return False
    return True


def rotate(*args) -> str:
    out = StringIO()
    call_command("rotate-credentials-key", *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def secret_world(world):
    world.cloud.credentials = {"username": "cohort", "password": SECRET}
    world.cloud.save()
    world.tenant.credentials = {"password": "tenant-" + SECRET}
    world.tenant.save()
    return world


def test_the_database_holds_tokens_and_python_sees_the_dicts(secret_world, settings):
    for record in (secret_world.cloud, secret_world.tenant):
        stored = raw_credentials(type(record), record.pk)
        assert SECRET not in stored and "password" not in stored
        assert decrypts_with(settings.CREDENTIALS_KEYS[0], stored)
    assert ServiceSettings.objects.get(pk=secret_world.cloud.pk).credentials == {
        "username": "cohort",
        "password": SECRET,
    }
    tenant = Tenant.objects.select_related("service_settings").get(pk=secret_world.tenant.pk)
    assert tenant.credentials == {"password": "tenant-" + SECRET}
    assert dict(tenant.cloud_access().credentials) == {"username": "cohort", "password": "tenant-" + SECRET}
    # An empty default is encrypted too: the column never holds clear JSON.
    assert raw_credentials(Tenant, secret_world.other_tenant.pk).startswith("gAAAAA")


def test_a_changed_dict_is_saved_and_an_unread_one_keeps_its_token(secret_world):
    cloud = ServiceSettings.objects.get(pk=secret_world.cloud.pk)
    cloud.credentials["password"] = "rotated"
    cloud.save()
    assert ServiceSettings.objects.get(pk=cloud.pk).credentials["password"] == "rotated"

    before = raw_credentials(ServiceSettings, cloud.pk)
    unread = ServiceSettings.objects.get(pk=cloud.pk)
    unread.region = "R2"
    unread.save()
    assert raw_credentials(ServiceSettings, cloud.pk) == before
    deferred = ServiceSettings.objects.defer("credentials").get(pk=cloud.pk)
    assert deferred.credentials["password"] == "rotated"


def test_values_and_dumps_show_tokens_never_secrets(secret_world):
    (sealed,) = ServiceSettings.objects.filter(pk=secret_world.cloud.pk).values_list("credentials", flat=True)
    assert isinstance(sealed, Sealed) and SECRET not in repr(sealed) and sealed.open()["password"] == SECRET
    dump = serializers.serialize("json", [ServiceSettings.objects.get(pk=secret_world.cloud.pk)])
    assert SECRET not in dump
    (loaded,) = serializers.deserialize("json", dump)
    loaded.save()
    assert ServiceSettings.objects.get(pk=secret_world.cloud.pk).credentials["password"] == SECRET


def test_a_wrong_key_fails_clearly_where_the_secret_is_needed(secret_world, settings):
    stored = raw_credentials(ServiceSettings, secret_world.cloud.pk)
    settings.CREDENTIALS_KEYS = [Fernet.generate_key().decode()]
    tenant = Tenant.objects.select_related("service_settings").get(pk=secret_world.tenant.pk)  # loading works
    assert tenant.name == "acme-tenant"
    with pytest.raises(CredentialsKeyError) as failure:
        tenant.cloud_access()
    message = str(failure.value)
    assert "COHORT_CREDENTIALS_KEY" in message
    assert f"ServiceSettings.credentials of row {secret_world.cloud.pk} cannot be decrypted" in message
    for secret in (SECRET, stored, settings.CREDENTIALS_KEYS[0]):
        assert secret not in message
    assert failure.value.__cause__ is None and failure.value.__suppress_context__

    # A worker records the same message on the group, not a stuck record or an empty dict.
    group = make_group(secret_world.tenant, "web", state="CREATION_SCHEDULED")
    steps.advance(group.pk)
    group.refresh_from_db()
    assert group.state == "ERRED" and "COHORT_CREDENTIALS_KEY" in group.error_message
    assert SECRET not in group.error_message + group.error_traceback


def test_a_malformed_key_is_named_by_position_not_shown(world, settings):
    settings.CREDENTIALS_KEYS = [Fernet.generate_key().decode(), "not-a-key"]
    with pytest.raises(CredentialsKeyError, match=r"Key 2 of 2 in COHORT_CREDENTIALS_KEY") as failure:
        ServiceSettings.objects.create(name="x", auth_url="https://k/v3", credentials={"password": SECRET})
    assert "not-a-key" not in str(failure.value)
    settings.CREDENTIALS_KEYS = []
    with pytest.raises(CredentialsKeyError, match="No credentials key"):
        ServiceSettings.objects.create(name="y", auth_url="https://k/v3")


def test_rotation_reencrypts_every_row_with_the_first_key(secret_world, settings):
    old, new = settings.CREDENTIALS_KEYS[0], Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [new, old]
    written_during_rotation = ServiceSettings.objects.create(name="new", auth_url="https://k/v3")
    rows = ServiceSettings.objects.count() + Tenant.objects.count()
    assert rotate() == f"{rows - 1} re-encrypted with the first key, 1 already were."
    assert rotate() == f"0 re-encrypted with the first key, {rows} already were."

    settings.CREDENTIALS_KEYS = [new]
    for model in (ServiceSettings, Tenant):
        for pk in model.objects.values_list("pk", flat=True):
            stored = raw_credentials(model, pk)
            assert decrypts_with(new, stored) and not decrypts_with(old, stored)
    assert ServiceSettings.objects.get(pk=secret_world.cloud.pk).credentials["password"] == SECRET
    assert Tenant.objects.get(pk=secret_world.tenant.pk).cloud_access().credentials["password"] == "tenant-" + SECRET
    assert ServiceSettings.objects.get(pk=written_during_rotation.pk).credentials == {}


def test_rotation_names_rows_no_key_opens_and_rotates_the_rest(secret_world, settings):
    lost, old = settings.CREDENTIALS_KEYS[0], Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [old]
    other = ServiceSettings.objects.create(name="other", auth_url="https://k/v3", credentials={"password": "x"})
    settings.CREDENTIALS_KEYS = [Fernet.generate_key().decode(), old]  # the world's key is lost
    with pytest.raises(CommandError, match=rf"ServiceSettings.credentials of row {secret_world.cloud.pk}\b") as failure:
        rotate()
    assert lost not in str(failure.value) and "Tenant.credentials" in str(failure.value)
    assert decrypts_with(settings.CREDENTIALS_KEYS[0], raw_credentials(ServiceSettings, other.pk))
    assert ServiceSettings.objects.get(pk=other.pk).credentials == {"password": "x"}


def test_generate_prints_a_new_key_and_changes_nothing(secret_world):
    before = raw_credentials(ServiceSettings, secret_world.cloud.pk)
    key = rotate("--generate")
    Fernet(key)  # a valid key
    assert key != rotate("--generate")
    assert raw_credentials(ServiceSettings, secret_world.cloud.pk) == before


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_old_rows_and_its_reverse_decrypts_them(settings):
    executor = MigrationExecutor(connection)
    before = [("structure", "0001_initial"), ("openstack", "0002_server_group_stable_order")]
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        customer = old.get_model("structure", "Customer").objects.create(name="Acme")
        project = old.get_model("structure", "Project").objects.create(customer=customer, name="web")
        cloud = old.get_model("structure", "ServiceSettings").objects.create(
            name="prod", auth_url="https://k/v3", credentials={"password": SECRET}
        )
        old.get_model("openstack", "Tenant").objects.create(
            name="t", project=project, service_settings=cloud, backend_id="p", credentials={"token": "tok-" + SECRET}
        )
        assert SECRET in raw_credentials(ServiceSettings, cloud.pk)

        executor = MigrationExecutor(connection)
        executor.migrate(latest)
        tenant = Tenant.objects.get(name="t")
        for model, pk in ((ServiceSettings, cloud.pk), (Tenant, tenant.pk)):
            assert SECRET not in raw_credentials(model, pk)
            assert decrypts_with(settings.CREDENTIALS_KEYS[0], raw_credentials(model, pk))
        assert dict(tenant.cloud_access().credentials) == {"password": SECRET, "token": "tok-" + SECRET}

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        assert old.get_model("structure", "ServiceSettings").objects.get().credentials == {"password": SECRET}
        assert old.get_model("openstack", "Tenant").objects.get().credentials == {"token": "tok-" + SECRET}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)


def test_the_key_file_is_made_once_private_and_shared(tmp_path):
    key_file = tmp_path / "home" / "credentials_key"
    found = []
    threads = [threading.Thread(target=lambda: found.append(credentials_keys(None, key_file))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and all(keys == found[0] for keys in found) and len(found[0]) == 1
    Fernet(found[0][0])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == ["credentials_key"]  # no draft left behind
    assert credentials_keys("", key_file) == found[0]


def test_the_environment_wins_and_lists_keys_in_order(tmp_path):
    key_file = tmp_path / "credentials_key"
    assert credentials_keys(" new , old ,", key_file) == ["new", "old"]
    assert not key_file.exists()
    key_file.write_text("new\nold\n")  # a key file may hold several keys too, one a line
    assert credentials_keys(None, key_file) == ["new", "old"]


def test_error_pages_hide_the_keys():
    safe = SafeExceptionReporterFilter().get_safe_settings()
    assert re.fullmatch(r"\*+", safe["CREDENTIALS_KEYS"])


def test_every_secret_looking_field_is_encrypted():
    encrypted = {(f.model._meta.label, f.name) for f in encrypted_fields()}
    assert encrypted == {("structure.ServiceSettings", "credentials"), ("openstack.Tenant", "credentials")}
    for label in ("core", "structure", "openstack"):
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.concrete_fields:
                if re.search("credential|password|secret|private", field.name):
                    assert isinstance(field, EncryptedJSONField), f"{model._meta.label}.{field.name} is in clear"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", ["worker", "web", "beat"])
def test_a_process_started_with_a_key_that_cannot_read_the_credentials_refuses_to_start(
    command, world, settings, tmp_path
):
    """As a second host's worker would be, started with another COHORT_CREDENTIALS_KEY: it says so and
    exits, instead of running and failing every cloud call (every group it touched would go ERRED)."""
    import subprocess
    import sys

    from tests.workers import database_url

    world.cloud.credentials = {"username": "cohort", "password": SECRET}
    world.cloud.save()
    group = make_group(world.tenant, "waiting", state="CREATION_SCHEDULED")
    wrong = Fernet.generate_key().decode()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ":".join(sys.path),
        "DJANGO_SETTINGS_MODULE": "cohort.settings",
        "COHORT_HOME": str(tmp_path),
        "COHORT_DATABASE_URL": database_url(),
        "COHORT_BROKER_URL": "memory://",
        "COHORT_CREDENTIALS_KEY": wrong,
    }
    done = subprocess.run([sys.executable, "-m", "cohort.cli", command], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "The credentials in the database (ServiceSettings.credentials) cannot be read" in done.stderr
    assert "COHORT_CREDENTIALS_KEY" in done.stderr and wrong not in done.stderr and SECRET not in done.stderr
    group.refresh_from_db()
    assert group.state == "CREATION_SCHEDULED"  # nothing was marked ERRED
    # with the key that made them, the check passes (the process would start)
    from cohort.core.encryption import check_credentials_key

    check_credentials_key()
