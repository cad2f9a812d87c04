"""Acting on the lab as its operator and users would: tenants, servers, quotas, the catalog.

Everything here goes through the public APIs of the lab's Keystone and Nova, authenticated with
Keystone v3 passwords, so what a test or a newcomer does here is what a tenant or an operator could do
on a real cloud. `create_tenant` is the operator's `openstack project create` + `user create` +
`role add`, and hands back the `CloudAccess` the new tenant's user logs in with. Compute results come
back as `cohort.cloud.base` dataclasses and failures as `CloudError`s, exactly as from a driver.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from typing import Any

import openstack.connection
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from cohort.cloud import openstack as openstack_driver
from cohort.cloud.base import CloudAccess, CloudError, NotFound, RemoteServer
from cohort.cloud.openstack import nova_error, translated_errors

IMAGE_ID = "155d900f-4e14-4e4c-a73d-069cbf4541e6"  # the image of Nova's Glance fixture
FLAVOR_ID = "1"  # m1.tiny of Nova's default flavors
REGION = "RegionOne"
DOMAIN = "Default"
ADMIN_USER = "admin"
ADMIN_PROJECT = "admin"
FORCED_HOST_ZONE = "nova"  # Nova's default availability zone: `nova:HOST` forces the host
MEMBER_ROLE = "member"  # what a tenant's user holds on its project (it implies `reader`)
PASSWORD_CHANGE_SETTLE = 1.1  # seconds: see `_ensure_user`
SERVICE_ROLES = ("admin", "service")  # what Nova's service user holds on the service project
SERVICES_MICROVERSION = "2.53"  # os-services by uuid: `PUT /os-services/{id}` with `status`


def admin_access(auth_url: str, password: str) -> CloudAccess:
    """The `CloudAccess` of the lab's admin (project `admin`), for `set_quota` and `create_tenant`."""
    project_id = _project_id_of(auth_url, password)
    credentials = {"username": ADMIN_USER, "password": password, "user_domain_name": DOMAIN}
    return CloudAccess(auth_url=auth_url, project_id=project_id, credentials=credentials, region=REGION)


@functools.lru_cache(maxsize=16)
def _project_id_of(auth_url: str, password: str) -> str:
    auth = v3.Password(
        auth_url=auth_url,
        username=ADMIN_USER,
        password=password,
        user_domain_name=DOMAIN,
        project_name=ADMIN_PROJECT,
        project_domain_name=DOMAIN,
    )
    with translated_errors():
        return ks_session.Session(auth=auth).get_project_id()


def create_tenant(admin: CloudAccess, name: str) -> CloudAccess:
    """Make (or find) project `name` with a user `name` holding the member role on it, as the admin.

    The user gets a new random password each call; the returned `CloudAccess` carries it.
    """
    keystone = _keystone(admin)
    project_id = _ensure(keystone, "projects", name, {"domain_id": "default"})
    password = secrets.token_urlsafe(18)
    user_id = _ensure_user(keystone, name, password, default_project_id=project_id)
    _grant(keystone, project_id, user_id, MEMBER_ROLE)
    credentials = {"username": name, "password": password, "user_domain_name": DOMAIN}
    return CloudAccess(auth_url=admin.auth_url, project_id=project_id, credentials=credentials, region=REGION)


def create_application_credential(access: CloudAccess, name: str) -> CloudAccess:
    """An application credential of the tenant user of `access` (password), made as that user would
    (`openstack application credential create`); its `CloudAccess` (`v3applicationcredential`)."""
    auth = v3.Password(auth_url=access.auth_url, project_id=access.project_id, **access.credentials)
    session = ks_session.Session(auth=auth)
    with translated_errors():
        user_id = session.get_user_id()
        response = session.post(
            f"{access.auth_url.rstrip('/')}/users/{user_id}/application_credentials",
            json={"application_credential": {"name": name}},
            raise_exc=False,
        )
    made = _json(response)["application_credential"]
    credentials = {"application_credential_id": made["id"], "application_credential_secret": made["secret"]}
    return CloudAccess(
        auth_url=access.auth_url,
        project_id=access.project_id,
        auth_type="v3applicationcredential",
        credentials=credentials,
        region=access.region,
    )


def delete_application_credential(access: CloudAccess, credential_id: str) -> None:
    """Revoke an application credential as the user of `access` (password) would
    (`openstack application credential delete`)."""
    auth = v3.Password(auth_url=access.auth_url, project_id=access.project_id, **access.credentials)
    session = ks_session.Session(auth=auth)
    with translated_errors():
        url = f"{access.auth_url.rstrip('/')}/users/{session.get_user_id()}/application_credentials/{credential_id}"
        response = session.delete(url, raise_exc=False)
    _json(response)


def register_service(admin: CloudAccess, user: str, project: str, password: str, compute_url: str) -> None:
    """Nova's service user (which validates its callers' tokens) and the compute endpoint in the catalog."""
    keystone = _keystone(admin)
    project_id = _ensure(keystone, "projects", project, {"domain_id": "default"})
    user_id = _ensure_user(keystone, user, password, default_project_id=project_id)
    for role in SERVICE_ROLES:
        _grant(keystone, project_id, user_id, role)
    services = _json(keystone.get("/services", params={"type": "compute"}))["services"]  # names are not unique
    if services:
        service_id = services[0]["id"]
    else:
        service_id = _json(keystone.post("/services", json={"service": {"name": "nova", "type": "compute"}}))
        service_id = service_id["service"]["id"]
    endpoints = _json(keystone.get("/endpoints", params={"service_id": service_id, "interface": "public"}))
    if endpoints["endpoints"]:
        endpoint_id = endpoints["endpoints"][0]["id"]
        _json(keystone.patch(f"/endpoints/{endpoint_id}", json={"endpoint": {"url": compute_url, "region_id": REGION}}))
    else:
        body = {"service_id": service_id, "interface": "public", "url": compute_url, "region_id": REGION}
        _json(keystone.post("/endpoints", json={"endpoint": body}))


def add_compute_endpoint(admin: CloudAccess, region: str, compute_url: str) -> str:
    """A public compute endpoint at `compute_url` in `region` (made if need be); its id. What an
    operator does to open a region of the cloud."""
    keystone = _keystone(admin)
    made = keystone.post("/regions", json={"region": {"id": region}})
    if made.status_code != 409:
        _json(made)
    service_id = _json(keystone.get("/services", params={"type": "compute"}))["services"][0]["id"]
    body = {"service_id": service_id, "interface": "public", "url": compute_url, "region_id": region}
    return _json(keystone.post("/endpoints", json={"endpoint": body}))["endpoint"]["id"]


def delete_endpoint(admin: CloudAccess, endpoint_id: str) -> None:
    """Take an endpoint out of the catalog: the next token's catalog lacks it."""
    _json(_keystone(admin).request("DELETE", f"/endpoints/{endpoint_id}"))


class _Keystone:
    """Keystone's identity API as the lab's admin: paths relative to its /v3, errors as `CloudError`."""

    def __init__(self, admin: CloudAccess) -> None:
        self.url = admin.auth_url.rstrip("/")
        auth = v3.Password(auth_url=self.url, project_id=admin.project_id, **admin.credentials)
        self.session = ks_session.Session(auth=auth)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        with translated_errors():
            return self.session.request(self.url + path, method, raise_exc=False, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)


@functools.lru_cache(maxsize=16)
def _keystone_for(key: str) -> _Keystone:
    data = json.loads(key)
    return _Keystone(CloudAccess(auth_url=data[0], project_id=data[1], credentials=data[2]))


def _keystone(admin: CloudAccess) -> _Keystone:
    return _keystone_for(json.dumps([admin.auth_url, admin.project_id, dict(admin.credentials)], sort_keys=True))


def _json(response: Any) -> dict:
    if response.status_code >= 400:
        raise CloudError(f"Keystone answered {response.status_code}: {response.text[:300]}")
    return response.json() if response.content else {}


def _ensure(keystone: _Keystone, collection: str, name: str, attrs: dict[str, str]) -> str:
    """The id of the `collection` item called `name`, made with `attrs` when there is none.

    Creating first and looking up only on a conflict spares a request in the common case (the
    tests make a tenant per test).
    """
    singular = collection[:-1]
    created = keystone.post(f"/{collection}", json={singular: {"name": name, **attrs}})
    if created.status_code != 409:
        return _json(created)[singular]["id"]
    return _json(keystone.get(f"/{collection}", params={"name": name}))[collection][0]["id"]


def _ensure_user(keystone: _Keystone, name: str, password: str, *, default_project_id: str) -> str:
    """The id of user `name`, made if need be; either way its password is now `password`."""
    body = {"name": name, "password": password, "domain_id": "default", "default_project_id": default_project_id}
    created = keystone.post("/users", json={"user": body})
    if created.status_code != 409:
        return _json(created)["user"]["id"]
    user_id = _json(keystone.get("/users", params={"name": name, "domain_id": "default"}))["users"][0]["id"]
    _json(keystone.patch(f"/users/{user_id}", json={"user": {"password": password}}))
    # Keystone revokes the user's tokens issued up to the change, to the second: a token issued
    # within the same second would be refused. Only a tenant made again (a restart) comes here.
    time.sleep(PASSWORD_CHANGE_SETTLE)
    return user_id


@functools.lru_cache(maxsize=32)
def _role_id(keystone: _Keystone, role: str) -> str:
    roles = _json(keystone.get("/roles", params={"name": role}))["roles"]
    if not roles:
        raise CloudError(f"The lab's Keystone has no role {role!r}.")
    return roles[0]["id"]


def _grant(keystone: _Keystone, project_id: str, user_id: str, role: str) -> None:
    _json(keystone.put(f"/projects/{project_id}/users/{user_id}/roles/{_role_id(keystone, role)}"))


def _access_key(access: CloudAccess) -> str:
    return json.dumps([access.auth_url, access.project_id, access.auth_type, dict(access.credentials)], sort_keys=True)


_connections: dict[str, openstack.connection.Connection] = {}


def connect(access: CloudAccess) -> openstack.connection.Connection:
    """An openstacksdk connection for `access`, set up as the driver's is; kept per access.

    Kept because each new connection would log in and discover versions again.
    """
    key = _access_key(access)
    if key not in _connections:
        _connections[key] = openstack_driver.connect(access)
    return _connections[key]


def boot_server(
    access: CloudAccess,
    name: str,
    group_id: str | None = None,
    *,
    host: str | None = None,
    admin: CloudAccess | None = None,
    timeout: float = 60.0,
) -> RemoteServer:
    """Boot a server as the tenant of `access`, into `group_id` by scheduler hint; wait until it settles.

    A server that no host can take ends in ERROR (Nova's "No valid host was found"), as on a real
    cloud, and is still a member of its group; its `fault_message` says so. With `host`, the server is
    booted onto that host by the cloud admin `admin` acting in the tenant's project (an operator's
    forced placement: availability zone `nova:HOST`, which bypasses the scheduler's filters, the
    group's policy included); it still belongs to the tenant and joins the group.
    """
    attrs = {"name": name, "image_id": IMAGE_ID, "flavor_id": FLAVOR_ID, "networks": "none"}
    if group_id:
        attrs["scheduler_hints"] = {"group": group_id}
    if host:
        if admin is None:
            raise CloudError("Booting onto a named host needs the cloud admin's access.")
        access = admin_in_project(admin, access.project_id)
        attrs["availability_zone"] = f"{FORCED_HOST_ZONE}:{host}"
    conn = connect(access)
    with translated_errors():
        server_id = conn.compute.create_server(**attrs).id  # the create reply has no status yet
        deadline = time.monotonic() + timeout
        server = conn.compute.get_server(server_id)
        while server.status == "BUILD" and time.monotonic() < deadline:
            time.sleep(0.1)
            server = conn.compute.get_server(server_id)
    if server.status == "BUILD":
        raise CloudError(f"Server {server.id} was still building after {timeout} s.")
    fault = server.fault if isinstance(server.fault, dict) else {}
    return RemoteServer(server.id, server.name or "", server.status, server.host_id or "", fault.get("message") or "")


def admin_in_project(admin: CloudAccess, project_id: str) -> CloudAccess:
    """The lab admin acting in project `project_id`: granted the admin role there (as an operator
    does, `openstack role add --user admin --project ... admin`), and scoped to it."""
    keystone = _keystone(admin)
    users = _json(keystone.get("/users", params={"name": ADMIN_USER, "domain_id": "default"}))["users"]
    _grant(keystone, project_id, users[0]["id"], "admin")
    return CloudAccess(auth_url=admin.auth_url, project_id=project_id, credentials=dict(admin.credentials),
                       region=admin.region)  # fmt: skip


def stop_server(access: CloudAccess, server_id: str, timeout: float = 60.0) -> None:
    """Power a server off as the tenant of `access` (`os-stop`) and wait until it is SHUTOFF."""
    conn = connect(access)
    with translated_errors():
        response = conn.compute.post(f"/servers/{server_id}/action", json={"os-stop": None})
        if response.status_code >= 400:
            raise nova_error(response)
        deadline = time.monotonic() + timeout
        while conn.compute.get_server(server_id).status != "SHUTOFF":
            if time.monotonic() > deadline:
                raise CloudError(f"Server {server_id} was not SHUTOFF after {timeout} s.")
            time.sleep(0.1)


def delete_server(access: CloudAccess, server_id: str) -> None:
    """Delete a server as the tenant of `access` (it leaves its group)."""
    with translated_errors():
        connect(access).compute.delete_server(server_id, ignore_missing=False)


def set_quota(admin: CloudAccess, project_id: str, **limits: int) -> None:
    """Set a project's quotas as the lab's admin, e.g. `set_quota(admin, project_id, server_groups=2)`."""
    conn = connect(admin)
    with translated_errors():
        response = conn.compute.put(f"/os-quota-sets/{project_id}", json={"quota_set": limits})
    if response.status_code != 200:
        raise CloudError(f"Setting quotas {limits} for {project_id} failed: {response.text}")


def set_host_enabled(admin: CloudAccess, host: str, enabled: bool, reason: str = "") -> None:
    """Enable or disable compute host `host` as the cloud admin `admin`, through Nova's API, as an
    operator does (`openstack compute service set --enable|--disable HOST nova-compute`): the scheduler
    skips a disabled host from the next request on; its servers stay. `NotFound` for a host the lab
    does not have."""
    conn = connect(admin)
    with translated_errors():
        params = {"binary": "nova-compute"}
        listed = conn.compute.get("/os-services", params=params, microversion=SERVICES_MICROVERSION)
        if listed.status_code >= 400:
            raise nova_error(listed)
        services = {item["host"]: item["id"] for item in listed.json()["services"]}
        if host not in services:
            known = ", ".join(sorted(services)) or "none"
            raise NotFound(f"The lab has no compute host {host} (its hosts: {known}).")
        disabled = {"status": "disabled", "disabled_reason": reason or "cohort lab-host"}
        body = {"status": "enabled"} if enabled else disabled
        changed = conn.compute.put(f"/os-services/{services[host]}", json=body, microversion=SERVICES_MICROVERSION)
    if changed.status_code >= 400:
        raise nova_error(changed)
