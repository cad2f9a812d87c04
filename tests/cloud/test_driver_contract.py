"""The driver contract: what every `CloudDriver` does, checked on the in-memory and the real Nova.

Each case states one behaviour of Nova's server groups that Cohort relies on. Where the in-memory
driver and Nova could disagree, these tests decide, and the in-memory driver is fixed to match.
Messages are compared exactly: they are Nova's own words, shown to Cohort's users.
"""

from __future__ import annotations

import uuid

import pytest

from cohort.cloud.base import POLICIES, QUOTA_MAX, BadRequest, Forbidden, NotFound, RemoteServerGroup, ServerGroupQuotas

from .conftest import Cloud, Tenant

pytestmark = pytest.mark.database_free

NO_VALID_HOST = "ERROR"


def _count_pages(driver: object, path: str, key: str) -> list[int]:
    """The sizes of the pages of `path` the OpenStack driver reads from now on (nothing for another driver)."""
    pages: list[int] = []
    request = getattr(driver, "_request", None)
    if request is not None:

        def counting(method: str, asked: str, **kwargs: object) -> dict:
            reply = request(method, asked, **kwargs)
            if asked == path:
                pages.append(len(reply[key]))
            return reply

        driver._request = counting  # type: ignore[attr-defined]
    return pages


def _ids(groups: list[RemoteServerGroup]) -> list[str]:
    return sorted(group.id for group in groups)


@pytest.mark.parametrize("policy", POLICIES)
def test_create_with_each_policy(tenant: Tenant, policy: str) -> None:
    group = tenant.driver.create_server_group(name=f"web-{policy}", policy=policy)

    assert (group.name, group.policy, dict(group.rules), group.members) == (f"web-{policy}", policy, {}, ())
    assert tenant.driver.get_server_group(group.id) == group
    assert tenant.driver.list_server_groups() == [group]


def test_anti_affinity_takes_rules(tenant: Tenant) -> None:
    group = tenant.driver.create_server_group(name="db", policy="anti-affinity", rules={"max_server_per_host": 2})

    assert dict(group.rules) == {"max_server_per_host": 2}
    assert dict(tenant.driver.get_server_group(group.id).rules) == {"max_server_per_host": 2}


@pytest.mark.parametrize("policy", ["affinity", "soft-affinity", "soft-anti-affinity"])
def test_rules_only_with_anti_affinity(tenant: Tenant, policy: str) -> None:
    with pytest.raises(BadRequest) as refused:
        tenant.driver.create_server_group(name="db", policy=policy, rules={"max_server_per_host": 2})

    assert refused.value.message == "Only anti-affinity policy supports rules."
    assert tenant.driver.list_server_groups() == []


@pytest.mark.novas_own
@pytest.mark.parametrize(
    ("name", "policy", "rules", "message"),
    [
        (
            "db",
            "spread",
            None,
            "Invalid input for field/attribute policy. Value: spread. 'spread' is not "
            "one of ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']",
        ),
        ("", "affinity", None, "Invalid input for field/attribute name. Value: . '' should be non-empty"),
        (
            " db",
            "affinity",
            None,
            "An invalid 'name' value was provided. The name must be: printable "
            "characters. Can not start or end with whitespace.",
        ),
        (
            "d" * 256,
            "affinity",
            None,
            f"Invalid input for field/attribute name. Value: {'d' * 256}. '{'d' * 256}' is too long",
        ),
        (
            "db",
            "anti-affinity",
            {"max_server_per_host": 0},
            "Invalid input for field/attribute max_server_per_host. Value: 0. 0 is less than the minimum of 1",
        ),
        (
            "db",
            "anti-affinity",
            {"max_servers": 2},
            "Invalid input for field/attribute rules. Value: "
            "{'max_servers': 2}. Additional properties are not allowed ('max_servers' was unexpected)",
        ),
    ],
    ids=["unknown-policy", "empty-name", "blank-edged-name", "long-name", "zero-per-host", "unknown-rule"],
)
def test_invalid_requests_are_bad_requests(
    tenant: Tenant, name: str, policy: str, rules: dict | None, message: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        tenant.driver.create_server_group(name=name, policy=policy, rules=rules)

    assert refused.value.message == message


INVALID_NAME = (
    "An invalid 'name' value was provided. The name must be: printable characters. "
    "Can not start or end with whitespace."
)


@pytest.mark.novas_own
@pytest.mark.parametrize(
    "name",
    [
        "db\tweb",
        "db\x00web",
        "db\nweb",
        "\ndb",
        "\n",
        "db\n\n",
        "db\u200bweb",  # zero-width space: a format character, invisible
        "db\u00adweb",  # soft hyphen: a format character too
        "db\u2028web",  # line separator
        "db\ue000",  # private use
        "db\u0378",  # unassigned
        "db\ufffe",  # a noncharacter
        "web-\U0001f680",  # an emoji beyond U+FFFF
        "\U0001d400bc",  # a letter, but beyond U+FFFF
        "db ",
        "\u00a0db",  # no-break space at the start
        "db\u3000",  # ideographic space at the end
        " ",
        "db \n",
        "\t" + "d" * 255,  # characters are judged before the length
        "\U0001f680" * 256,
    ],
    ids=[
        "tab", "nul", "inner-newline", "leading-newline", "only-newline", "two-trailing-newlines",
        "zero-width-space", "soft-hyphen", "line-separator", "private-use", "unassigned", "noncharacter",
        "emoji", "astral-letter", "trailing-space", "leading-no-break-space", "trailing-ideographic-space",
        "only-space", "space-before-newline", "long-with-a-tab", "long-emoji",
    ],
)  # fmt: skip
def test_names_nova_refuses_for_their_characters(tenant: Tenant, name: str) -> None:
    with pytest.raises(BadRequest) as refused:
        tenant.driver.create_server_group(name=name, policy="affinity")

    assert refused.value.message == INVALID_NAME
    assert tenant.driver.list_server_groups() == []


@pytest.mark.novas_own
@pytest.mark.parametrize(
    "name",
    ["it's" * 64, "\u00fc" * 256, "d" * 255 + "\n"],
    ids=["quotes", "non-ascii", "newline-counts"],
)
def test_too_long_names_are_quoted_as_python_does(tenant: Tenant, name: str) -> None:
    with pytest.raises(BadRequest) as refused:
        tenant.driver.create_server_group(name=name, policy="affinity")

    assert refused.value.message == f"Invalid input for field/attribute name. Value: {name}. {name!r} is too long"


@pytest.mark.novas_own
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("\t", INVALID_NAME),
        ("", "Invalid input for field/attribute name. Value: . '' should be non-empty"),
        ("d" * 256, f"Invalid input for field/attribute name. Value: {'d' * 256}. '{'d' * 256}' is too long"),
    ],
    ids=["bad-characters", "empty", "too-long"],
)
def test_the_name_is_judged_before_the_policy(tenant: Tenant, name: str, message: str) -> None:
    with pytest.raises(BadRequest) as refused:
        tenant.driver.create_server_group(name=name, policy="spread")

    assert refused.value.message == message


@pytest.mark.novas_own
@pytest.mark.parametrize(
    "name",
    [
        "Zürich-实验",
        "d" * 255,
        "\u00fc" * 255,
        "web servers",
        "d\u00a0b",  # a no-break space inside
        "e\u0301",  # a combining mark
        "\u0301e",  # even first
        "\u2603 snow",  # a symbol below U+FFFF
        "\u2764\ufe0f",  # an emoji written within U+FFFF, with a variation selector
        "it's \"quoted\" \\ back",
        "d\ufffdb",  # the replacement character
        "db\n",  # one trailing newline slips through Nova's pattern
        "d" * 254 + "\n",
    ],
    ids=[
        "non-ascii-letters", "longest", "longest-non-ascii", "inner-space", "inner-no-break-space",
        "combining-mark", "leading-combining-mark", "bmp-symbol", "bmp-emoji", "quotes-and-backslash",
        "replacement-character", "one-trailing-newline", "longest-with-trailing-newline",
    ],
)  # fmt: skip
def test_unusual_names_nova_accepts(tenant: Tenant, name: str) -> None:
    group = tenant.driver.create_server_group(name=name, policy="affinity")

    assert group.name == name
    assert tenant.driver.get_server_group(group.id).name == name


def test_duplicate_names_are_allowed(tenant: Tenant) -> None:
    first = tenant.driver.create_server_group(name="web", policy="affinity")
    second = tenant.driver.create_server_group(name="web", policy="affinity")

    assert first.id != second.id
    assert _ids(tenant.driver.list_server_groups()) == sorted([first.id, second.id])


def test_quota_exceeded_is_forbidden_with_novas_message(tenant: Tenant) -> None:
    tenant.set_server_group_quota(2)
    kept = [tenant.driver.create_server_group(name=f"g{n}", policy="affinity") for n in range(2)]

    with pytest.raises(Forbidden) as refused:
        tenant.driver.create_server_group(name="g3", policy="affinity")

    assert refused.value.message == "Quota exceeded, too many server groups."
    assert _ids(tenant.driver.list_server_groups()) == _ids(kept)


def test_quota_is_checked_before_rules(tenant: Tenant) -> None:
    tenant.set_server_group_quota(0)

    with pytest.raises(Forbidden):
        tenant.driver.create_server_group(name="db", policy="affinity", rules={"max_server_per_host": 2})


def test_limits_report_both_quotas_and_the_groups_used(tenant: Tenant) -> None:
    tenant.set_quotas(server_groups=3, server_group_members=4)
    tenant.driver.create_server_group(name="web", policy="affinity")

    assert tenant.driver.get_quotas() == ServerGroupQuotas(3, 4, 1)


def test_setting_quotas_answers_what_the_cloud_now_has(tenant: Tenant) -> None:
    assert tenant.set_quotas(server_groups=5, server_group_members=6) == ServerGroupQuotas(5, 6)
    assert tenant.set_quotas(server_group_members=-1) == ServerGroupQuotas(5, -1)  # the other is kept
    assert tenant.driver.get_quotas() == ServerGroupQuotas(5, -1, 0)


@pytest.mark.novas_own
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-2, "Invalid input for field/attribute server_groups. Value: -2. -2 is less than the minimum of -1"),
        (
            QUOTA_MAX + 1,
            f"Invalid input for field/attribute server_groups. Value: {QUOTA_MAX + 1}. {QUOTA_MAX + 1} is greater "
            f"than the maximum of {QUOTA_MAX}",
        ),
    ],
    ids=["below-unlimited", "above-the-maximum"],
)
def test_quota_values_out_of_range_are_bad_requests(tenant: Tenant, value: int, message: str) -> None:
    with pytest.raises(BadRequest) as refused:
        tenant.set_quotas(server_groups=value)

    assert refused.value.message == message


def test_a_quota_below_the_groups_held_is_a_bad_request(tenant: Tenant) -> None:
    for n in range(2):
        tenant.driver.create_server_group(name=f"g{n}", policy="affinity")

    with pytest.raises(BadRequest) as refused:
        tenant.set_quotas(server_groups=1)

    assert refused.value.message == (
        "Quota limit 1 for server_groups must be greater than or equal to already used and reserved 2."
    )
    assert tenant.set_quotas(server_groups=2).server_groups == 2


def test_a_tenant_may_not_set_its_own_quotas(tenant: Tenant) -> None:
    with pytest.raises(Forbidden, match="os-quota-sets"):
        tenant.driver.set_quotas(tenant.project_id, server_groups=100)


def test_a_boot_into_a_full_group_is_refused_with_novas_words(tenant: Tenant) -> None:
    tenant.set_quotas(server_group_members=2)
    group = tenant.driver.create_server_group(name="web", policy="soft-anti-affinity")
    members = [tenant.boot_server(f"web-{n}", group.id) for n in range(2)]

    with pytest.raises(Forbidden) as refused:
        tenant.boot_server("web-2", group.id)

    assert refused.value.message == "Quota exceeded, too many servers in group"
    assert tenant.driver.get_server_group(group.id).members == tuple(sorted(s.id for s in members))


def test_groups_are_private_to_their_project(cloud: Cloud) -> None:
    owner, stranger = cloud.tenant(), cloud.tenant()
    group = owner.driver.create_server_group(name="web", policy="affinity")

    with pytest.raises(NotFound):
        stranger.driver.get_server_group(group.id)
    with pytest.raises(NotFound):
        stranger.driver.delete_server_group(group.id)
    assert stranger.driver.list_server_groups() == []
    assert owner.driver.get_server_group(group.id) == group


def test_not_found_after_delete(tenant: Tenant) -> None:
    group = tenant.driver.create_server_group(name="web", policy="affinity")
    tenant.driver.delete_server_group(group.id)

    with pytest.raises(NotFound) as on_get:
        tenant.driver.get_server_group(group.id)
    with pytest.raises(NotFound) as on_delete:
        tenant.driver.delete_server_group(group.id)

    assert on_get.value.message == f"Instance group {group.id} could not be found."
    assert on_delete.value.message == f"Instance group {group.id} could not be found."
    assert tenant.driver.list_server_groups() == []


def test_unknown_group_is_not_found(tenant: Tenant) -> None:
    with pytest.raises(NotFound):
        tenant.driver.get_server_group(str(uuid.uuid4()))


def test_delete_group_with_members_keeps_the_servers(tenant: Tenant) -> None:
    group = tenant.driver.create_server_group(name="web", policy="anti-affinity")
    servers = [tenant.boot_server(f"web-{n}", group.id) for n in range(2)]

    tenant.driver.delete_server_group(group.id)

    listed = {server.id: server for server in tenant.driver.list_servers()}
    assert {server.id for server in servers} <= set(listed)
    assert all(listed[server.id].status == "ACTIVE" for server in servers)
    with pytest.raises(NotFound):
        tenant.driver.get_server_group(group.id)


@pytest.mark.novas_own
def test_listing_pages_past_novas_limit(cloud: Cloud) -> None:
    tenant = cloud.tenant()
    created = [
        tenant.driver.create_server_group(name=f"g{n}", policy="soft-affinity") for n in range(cloud.page_limit + 1)
    ]
    pages = _count_pages(tenant.driver, "/os-server-groups", "server_groups")

    listed = tenant.driver.list_server_groups()

    assert len(listed) == cloud.page_limit + 1
    if cloud.name == "nova":  # the driver asks for 1000 a page, the lab gives 100: a short page proves nothing
        assert pages == [cloud.page_limit, 1, 0]
    assert _ids(listed) == _ids(created)


def test_members_are_the_servers_booted_with_the_group_hint(tenant: Tenant) -> None:
    group = tenant.driver.create_server_group(name="web", policy="soft-anti-affinity")
    members = [tenant.boot_server(f"web-{n}", group.id) for n in range(2)]
    outsider = tenant.boot_server("outsider")

    expected = tuple(sorted(server.id for server in members))
    assert tenant.driver.get_server_group(group.id).members == expected  # sorted: stable to compare
    assert [listed.members for listed in tenant.driver.list_server_groups()] == [expected]
    listed = {server.id: server for server in tenant.driver.list_servers()}
    assert set(listed) == {members[0].id, members[1].id, outsider.id}
    assert all(server.status == "ACTIVE" and server.host_id for server in listed.values())


@pytest.mark.novas_own
def test_anti_affinity_spreads_then_finds_no_valid_host(cloud: Cloud) -> None:
    tenant = cloud.tenant()
    group = tenant.driver.create_server_group(name="db", policy="anti-affinity")

    booted = [tenant.boot_server(f"db-{n}", group.id) for n in range(cloud.hosts + 1)]

    placed, refused = booted[:-1], booted[-1]
    assert [server.status for server in placed] == ["ACTIVE"] * cloud.hosts
    assert len({server.host_id for server in placed}) == cloud.hosts
    assert (refused.status, refused.host_id) == (NO_VALID_HOST, "")
    assert tenant.driver.get_server_group(group.id).members == tuple(sorted(s.id for s in booted))
    listed = {server.id: server for server in tenant.driver.list_servers()}
    assert (listed[refused.id].status, listed[refused.id].host_id) == (NO_VALID_HOST, "")
    # Nova's fault comes with the paged listing, and only for the server in ERROR
    assert listed[refused.id].fault_message == "No valid host was found. There are not enough hosts available."
    assert [listed[server.id].fault_message for server in placed] == [""] * cloud.hosts


def test_a_tenant_user_may_not_list_compute_hosts(tenant: Tenant) -> None:
    with pytest.raises(Forbidden, match="os-services"):
        tenant.driver.list_compute_hosts()


@pytest.mark.novas_own
def test_anti_affinity_rule_allows_that_many_per_host(cloud: Cloud) -> None:
    tenant = cloud.tenant()
    group = tenant.driver.create_server_group(name="db", policy="anti-affinity", rules={"max_server_per_host": 2})

    booted = [tenant.boot_server(f"db-{n}", group.id) for n in range(2 * cloud.hosts + 1)]

    placed = [server for server in booted if server.status == "ACTIVE"]
    per_host = [server.host_id for server in placed]
    assert len(placed) == 2 * cloud.hosts
    assert sorted(per_host.count(host) for host in set(per_host)) == [2] * cloud.hosts
    assert booted[-1].status == NO_VALID_HOST


@pytest.mark.novas_own
@pytest.mark.parametrize("policy", ["affinity", "soft-affinity"])
def test_affinity_keeps_servers_on_one_host(tenant: Tenant, policy: str) -> None:
    group = tenant.driver.create_server_group(name="cache", policy=policy)

    booted = [tenant.boot_server(f"cache-{n}", group.id) for n in range(3)]

    assert [server.status for server in booted] == ["ACTIVE"] * 3
    assert len({server.host_id for server in booted}) == 1
    assert booted[0].host_id


@pytest.mark.novas_own
def test_soft_anti_affinity_spreads_but_never_refuses(cloud: Cloud) -> None:
    tenant = cloud.tenant()
    group = tenant.driver.create_server_group(name="web", policy="soft-anti-affinity")

    booted = [tenant.boot_server(f"web-{n}", group.id) for n in range(cloud.hosts + 1)]

    assert [server.status for server in booted] == ["ACTIVE"] * (cloud.hosts + 1)
    assert len({server.host_id for server in booted[: cloud.hosts]}) == cloud.hosts


@pytest.mark.novas_own
def test_host_ids_hide_host_names_per_project(cloud: Cloud) -> None:
    first, second = cloud.tenant(), cloud.tenant()
    group_one = first.driver.create_server_group(name="a", policy="affinity")
    group_two = second.driver.create_server_group(name="a", policy="affinity")
    one = first.boot_server("a", group_one.id)
    two = second.boot_server("a", group_two.id)

    assert len(one.host_id) == 56  # a sha224 hex digest, never a host name
    assert one.host_id != two.host_id  # per-project hashes, even if both landed on the same host
