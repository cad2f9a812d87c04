"""A tenant pull imports Nova's groups under whatever names Nova has, even ones Cohort's API would refuse.

Nova allows up to 255 characters and lets a trailing newline through; Cohort keeps at most 150 and
trims. Importing must neither fail nor break the database's rules (150 characters, unique per tenant).
"""

from cohort.cloud.memory import MemoryDriver
from cohort.openstack import reconcile
from cohort.openstack.models import ServerGroup


def pull(world, *names: str) -> list[str]:
    driver = MemoryDriver(world.tenant.cloud_access())
    for name in names:
        driver.create_server_group(name=name, policy="affinity")
    reconcile.pull_tenant(world.tenant.pk)
    return sorted(ServerGroup.objects.filter(tenant=world.tenant).values_list("name", flat=True))


def test_names_nova_accepts_and_cohort_would_trim_are_imported_as_they_are(world):
    assert pull(world, "db\n", "d\u00a0b", "ü" * 150) == sorted(["db\n", "d\u00a0b", "ü" * 150])


def test_a_name_longer_than_150_characters_is_imported_shortened(world):
    names = pull(world, "d" * 255)

    assert len(names) == 1 and len(names[0]) <= 150 and names[0].startswith("d" * 100)


def test_long_names_that_shorten_alike_are_both_imported(world):
    names = pull(world, "d" * 200, "d" * 201)

    assert len(names) == 2 and all(len(name) <= 150 for name in names)
