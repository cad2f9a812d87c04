"""The `CloudDriver` for a real OpenStack cloud, through openstacksdk and keystoneauth.

openstacksdk supplies what is hard to get right: the keystoneauth plugins (Keystone v3 password and
application credentials, or a bare token + endpoint for the lab), the session with TLS verification,
service-catalog lookup and version discovery. The calls themselves go through the SDK's compute
proxy as plain JSON requests rather than through its resource classes, for three reasons: Nova's
server-group list has no marker paging, which the SDK's resource listing assumes; the microversion
must be chosen once, deliberately, per driver (2.64 for `policy` + `rules`, the older `policies` shape
on an older cloud, and never a silent fallback when discovery fails); and no SDK object or exception
may leave the driver, so every response is read here into the dataclasses of `base.py` and every
failure is turned into a `CloudError` that carries Nova's own message.

Moving servers asks for its own microversions, per call: a live migration at 2.30 exactly (a named
host is then checked by the scheduler, never forced; and below 2.34 Nova runs the scheduler and the
pre-checks inside the request, so "No valid host was found" is a 400 with Nova's words rather than a
202 whose failure shows only later), a cold one at up to 2.56 (a named host needs 2.56), the
migrations list at up to 2.59 (migration uuids), and the instance actions' events at up to 2.84,
the first to show an event's `details`: a failed move's words are there and nowhere else (a cold
migration is always accepted before it is scheduled, and the server keeps no fault for it).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import openstack.config
import openstack.connection
import openstack.exceptions
from keystoneauth1 import discover
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3 as ks_v3

from cohort.cloud.base import (
    FAILURE_HIDDEN,
    BadRequest,
    CloudAccess,
    CloudError,
    ComputeHost,
    Conflict,
    Forbidden,
    NotFound,
    RemoteMigration,
    RemoteServer,
    RemoteServerGroup,
    ServerGroupQuotas,
    Unreachable,
)

POLICY_AND_RULES_MICROVERSION = (2, 64)
LIVE_MIGRATION_MICROVERSION = "2.30"  # the scheduler checks a named host; pre-checks inside the request
COLD_MIGRATION_MICROVERSION = "2.56"  # a named host for a cold migration
MIGRATIONS_MICROVERSION = "2.59"  # migrations carry their uuid
EVENT_DETAILS_MICROVERSION = "2.84"  # instance action events carry `details`: a failure's words
MOVE_ACTIONS = ("live-migration", "migrate")  # the instance actions a move records
MIGRATION_KINDS = {"live-migration": "live", "migration": "cold", "resize": "cold"}
PAGE_SIZE = 1000  # Nova's default [api] max_limit; a cloud may cap pages lower, which paging tolerates
DEFAULT_TIMEOUT = 30.0  # seconds; a hung cloud must not hold a worker forever
SESSION_SECONDS = 600.0  # how long a tenant's connection is reused
APPLICATION_CREDENTIAL_AUTH_TYPES = ("v3applicationcredential", "applicationcredential")
# The credential keys each auth type takes (keystoneauth's v3 plugins' own names). `project_id` of a
# cloud's password credentials names the project its admin calls are scoped to; a tenant's project
# comes from the tenant. Anything else would reach keystoneauth as an unexpected argument.
_USER = frozenset({"username", "user_id", "user_domain_name", "user_domain_id"})
CREDENTIAL_KEYS: dict[str, frozenset[str]] = {
    "password": _USER | {"password", "project_domain_name", "project_domain_id", "project_id"},
    "v3applicationcredential": _USER
    | {"application_credential_id", "application_credential_name", "application_credential_secret"},
    "admin_token": frozenset({"token"}),
}
# Keystone v3 plugins in place of keystoneauth's generic ones. A generic plugin first asks the
# identity endpoint which API versions it has; when that endpoint answers 401, keystoneauth 5.18
# asks again *authenticated*, which re-enters the plugin's own (non-reentrant) lock: the call never
# returns. The v3 plugins post straight to `<auth_url>/auth/tokens`, and Keystone v2 has been gone
# since 2018, so nothing is lost.
V3_PLUGINS = {"password": "v3password", "token": "v3token", "applicationcredential": "v3applicationcredential"}

ERRORS_BY_STATUS: dict[int, type[CloudError]] = {
    400: BadRequest,
    401: Forbidden,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    502: Unreachable,
    503: Unreachable,
    504: Unreachable,
}


class OpenStackDriver:
    """One tenant of an OpenStack cloud: one authenticated connection, one negotiated microversion."""

    #: The newest compute microversion this driver speaks; it uses the cloud's newest up to this one.
    wanted_microversion = "2.64"
    #: Items asked for per page of a listing.
    page_size = PAGE_SIZE

    def __init__(self, access: CloudAccess) -> None:
        self._access = access
        self._session = _sessions.get(access)
        self._connection = self._session.connection

    def create_server_group(
        self, *, name: str, policy: str, rules: Mapping[str, int] | None = None
    ) -> RemoteServerGroup:
        microversion = self._negotiated_microversion()
        body = _server_group_body(microversion, name, policy, rules)
        reply = self._request("POST", "/os-server-groups", json={"server_group": body})
        return _server_group(reply["server_group"])

    def get_server_group(self, group_id: str) -> RemoteServerGroup:
        reply = self._request("GET", f"/os-server-groups/{group_id}")
        return _server_group(reply["server_group"])

    def list_server_groups(self) -> list[RemoteServerGroup]:
        # Nova pages this list by limit/offset only, and may cap a page below the limit asked for
        # ([api] max_limit), so a short page proves nothing: read until an empty page. A group
        # deleted meanwhile can shift another past a page boundary; the next pull sees it.
        groups: dict[str, RemoteServerGroup] = {}
        offset = 0
        while True:
            params = {"limit": self.page_size, "offset": offset}
            page = self._request("GET", "/os-server-groups", params=params)["server_groups"]
            if not page:
                return list(groups.values())
            offset += len(page)
            for item in page:
                group = _server_group(item)
                groups.setdefault(group.id, group)

    def delete_server_group(self, group_id: str) -> None:
        self._request("DELETE", f"/os-server-groups/{group_id}")

    def list_servers(self) -> list[RemoteServer]:
        servers: list[RemoteServer] = []
        params: dict[str, Any] = {"limit": self.page_size}
        while True:
            reply = self._request("GET", "/servers/detail", params=params)
            servers.extend(_server(item) for item in reply["servers"])
            if not reply["servers"] or not _has_next_link(reply.get("servers_links", ())):
                return servers
            params = {"limit": self.page_size, "marker": servers[-1].id}

    def list_compute_hosts(self) -> list[ComputeHost]:
        # An admin's call (Nova's policy `os_compute_api:os-services:list`); anyone else gets 403.
        reply = self._request("GET", "/os-services", params={"binary": "nova-compute"})
        hosts = {}
        for item in reply.get("services", ()):
            host = _compute_host(item)
            if host.name and (host.name not in hosts or host.available):
                hosts[host.name] = host  # one service per host; a duplicate record counts once
        return list(hosts.values())

    def get_server(self, server_id: str) -> RemoteServer:
        return _server(self._request("GET", f"/servers/{server_id}")["server"])

    def live_migrate_server(self, server_id: str, host: str | None = None) -> None:
        microversion = self._microversion_at_least(LIVE_MIGRATION_MICROVERSION, "a live migration")
        body = {"os-migrateLive": {"host": host, "block_migration": "auto"}}
        self._request("POST", f"/servers/{server_id}/action", json=body, microversion=microversion)

    def migrate_server(self, server_id: str, host: str | None = None) -> None:
        microversion = self._negotiated_microversion(COLD_MIGRATION_MICROVERSION)
        if host is not None:
            self._microversion_at_least(COLD_MIGRATION_MICROVERSION, "a cold migration to a named host")
        body = {"migrate": {"host": host} if host is not None else None}
        self._request("POST", f"/servers/{server_id}/action", json=body, microversion=microversion)

    def confirm_server_migration(self, server_id: str) -> None:
        self._request("POST", f"/servers/{server_id}/action", json={"confirmResize": None})

    def list_server_migrations(self, server_id: str) -> list[RemoteMigration]:
        # One server's migrations are few: one page (Nova's max_limit) holds them.
        microversion = self._negotiated_microversion(MIGRATIONS_MICROVERSION)
        reply = self._request("GET", "/os-migrations", params={"instance_uuid": server_id}, microversion=microversion)
        items = sorted(reply.get("migrations", ()), key=lambda item: int(item.get("id") or 0))  # Nova's sequence
        return [_migration(item) for item in items]

    def move_failure(self, server_id: str) -> str:
        microversion = self._negotiated_microversion(EVENT_DETAILS_MICROVERSION)
        actions = self._request("GET", f"/servers/{server_id}/os-instance-actions", microversion=microversion)
        moves = [action for action in actions.get("instanceActions", ()) if action.get("action") in MOVE_ACTIONS]
        if not moves:
            return ""
        newest = max(moves, key=lambda action: action.get("start_time") or "")
        path = f"/servers/{server_id}/os-instance-actions/{newest['request_id']}"
        events = self._request("GET", path, microversion=microversion)["instanceAction"].get("events") or ()
        failed = [event for event in events if event.get("result") == "Error"]
        if not failed and newest.get("message") != "Error":
            return ""
        for event in failed:
            if event.get("details"):
                return str(event["details"])
        if _older(microversion, EVENT_DETAILS_MICROVERSION):
            return f"Nova recorded this move as failed; why needs compute API {EVENT_DETAILS_MICROVERSION}+."
        return FAILURE_HIDDEN

    def get_quotas(self) -> ServerGroupQuotas:
        absolute = self._request("GET", "/limits").get("limits", {}).get("absolute", {})
        return ServerGroupQuotas(
            _quota(absolute.get("maxServerGroups")),
            _quota(absolute.get("maxServerGroupMembers")),
            _quota(absolute.get("totalServerGroupsUsed")),
        )

    def set_quotas(
        self, project_id: str, *, server_groups: int | None = None, server_group_members: int | None = None
    ) -> ServerGroupQuotas:
        given = {"server_groups": server_groups, "server_group_members": server_group_members}
        body = {"quota_set": {key: value for key, value in given.items() if value is not None}}
        quota_set = self._request("PUT", f"/os-quota-sets/{project_id}", json=body).get("quota_set", {})
        return ServerGroupQuotas(_quota(quota_set.get("server_groups")), _quota(quota_set.get("server_group_members")))

    def _negotiated_microversion(self, wanted: str | None = None) -> str:
        """The cloud's newest microversion up to `wanted` (the driver's own by default)."""
        wanted = wanted or self.wanted_microversion
        chosen = self._session.microversions.get(wanted)
        if chosen is None:
            with self._compute() as compute:
                endpoint_data = compute.get_endpoint_data()
            chosen = _choose_microversion(endpoint_data, wanted, self._access.auth_url)
            self._session.microversions[wanted] = chosen
        return chosen

    def _microversion_at_least(self, needed: str, what: str) -> str:
        """`needed` itself, or `BadRequest` saying that this cloud is too old for `what`."""
        chosen = self._negotiated_microversion(needed)
        if _older(chosen, needed):
            raise BadRequest(f"This cloud's compute API stops at microversion {chosen}; {what} needs {needed}+.")
        return chosen

    @contextlib.contextmanager
    def _compute(self) -> Iterator[Any]:
        """The SDK's compute proxy, errors translated. A catalog that lists no compute endpoint for
        the tenant (its region and interface) is an operator's change: a refusal, not a transient
        fault. The SDK disables a service it did not find for the life of the connection, so the
        session goes too, and the first call once the endpoint is back logs in again and finds it."""
        with translated_errors():
            try:
                yield self._connection.compute
            except openstack.exceptions.ServiceDisabledException as exc:
                _sessions.forget(self._access)
                reason = str(exc).rpartition("service catalog: ")[2] or str(exc)
                raise CloudError(f"Keystone at {self._access.auth_url} lists no compute endpoint: {reason}.") from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: object = None,
        microversion: str | None = None,
    ) -> dict[str, Any]:
        microversion = microversion or self._negotiated_microversion()
        with self._compute() as compute:
            response = compute.request(
                path, method, params=params, json=json, microversion=microversion, raise_exc=False
            )
        if response.status_code >= 400:
            raise nova_error(response)
        try:
            return response.json() if response.content else {}
        except ValueError:
            raise CloudError(f"The cloud answered {method} {path} with something other than JSON.") from None


@dataclass
class _Session:
    connection: openstack.connection.Connection
    expires: float
    microversions: dict[str, str] = field(default_factory=dict)  # wanted -> negotiated


class _Sessions:
    """One authenticated connection per tenant and process, kept for `SESSION_SECONDS`.

    A worker runs many tasks for the same tenant; keeping its connection spares each task a Keystone
    login and a version discovery (keystoneauth renews the token itself when it nears expiry). The
    key is everything in the access record, secrets included, so changed credentials make a new one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}

    @staticmethod
    def _key(access: CloudAccess) -> str:
        return json.dumps(
            [access.auth_url, access.project_id, access.auth_type, access.credentials, access.region,
             access.verify_tls, access.options],
            sort_keys=True,
            default=str,
        )  # fmt: skip

    def get(self, access: CloudAccess) -> _Session:
        key = self._key(access)
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(key)
            if session is None or session.expires < now:
                with translated_errors():
                    session = _Session(connect(access), now + SESSION_SECONDS)
                self._sessions = {k: v for k, v in self._sessions.items() if v.expires >= now}
                self._sessions[key] = session
            return session

    def forget(self, access: CloudAccess) -> None:
        """Drop the connection of `access`: the next call logs in again."""
        with self._lock:
            self._sessions.pop(self._key(access), None)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()


_sessions = _Sessions()


def connect(access: CloudAccess) -> openstack.connection.Connection:
    """An openstacksdk connection (not yet authenticated: that happens on first use) for `access`."""
    options = dict(access.options)
    region = openstack.config.get_cloud_region(
        load_yaml_config=False,  # the access record is the whole truth: no clouds.yaml, no OS_* vars
        load_envvars=False,
        app_name="cohort",
        auth_type=V3_PLUGINS.get(access.auth_type, access.auth_type),
        auth=_auth(access),
        region_name=access.region or None,
        verify=access.verify_tls,
        cacert=options.pop("cacert", None),
        interface=options.pop("interface", "public"),
        api_timeout=options.pop("timeout", DEFAULT_TIMEOUT),
        **options,
    )
    return openstack.connection.Connection(config=region)


def _auth(access: CloudAccess) -> dict[str, str]:
    credentials = dict(access.credentials)
    if access.auth_type == "admin_token":
        if "token" not in credentials:
            raise BadRequest("auth_type admin_token needs credentials['token'].")
        return {"endpoint": access.auth_url, "token": credentials["token"]}
    auth_url = _v3_url(access.auth_url)
    if access.auth_type in APPLICATION_CREDENTIAL_AUTH_TYPES:
        return {"auth_url": auth_url, **credentials}  # the credential is bound to its project
    return {"auth_url": auth_url, "project_id": access.project_id, **credentials}


PROJECT_KEYS = frozenset({"project_id", "project_domain_name", "project_domain_id"})


def _domain(credentials: dict[str, str]) -> dict[str, str]:
    """The domain of a project named by name: the credentials' project domain, else the user's."""
    for key in ("project_domain_id", "project_domain_name"):
        if credentials.get(key):
            return {key: credentials[key]}
    return {"project_domain_name": credentials.get("user_domain_name", "Default")}


def _v3_url(auth_url: str) -> str:
    """The Keystone v3 URL: `https://keystone:5000` and `https://keystone:5000/v3/` both give `.../v3`."""
    trimmed = auth_url.rstrip("/")
    return trimmed if trimmed.endswith("/v3") else f"{trimmed}/v3"


def _choose_microversion(endpoint_data: Any, wanted: str, auth_url: str) -> str:
    """`wanted` (2.64) when the cloud has it, else the cloud's newest (the old `policies` shape)."""
    if endpoint_data is None or not endpoint_data.max_microversion:
        # keystoneauth swallows a failed discovery; guessing "no microversions" would silently
        # downgrade every call to the oldest shape, so this is a failure to reach the cloud.
        raise Unreachable(f"The compute endpoint for {auth_url} did not report its API microversions.")
    newest = discover.normalize_version_number(endpoint_data.max_microversion)
    oldest = discover.normalize_version_number(endpoint_data.min_microversion or "2.1")
    chosen = max(min(discover.normalize_version_number(wanted), newest), oldest)
    return discover.version_to_string(chosen)


def _older(microversion: str, than: str) -> bool:
    return discover.normalize_version_number(microversion) < discover.normalize_version_number(than)


def _supports_policy_and_rules(microversion: str) -> bool:
    return discover.normalize_version_number(microversion) >= POLICY_AND_RULES_MICROVERSION


def _server_group_body(microversion: str, name: str, policy: str, rules: Mapping[str, int] | None) -> dict[str, Any]:
    if _supports_policy_and_rules(microversion):
        return {"name": name, "policy": policy, "rules": dict(rules or {})}
    if rules:
        raise BadRequest(f"This cloud's compute API stops at microversion {microversion}; rules need 2.64 or newer.")
    return {"name": name, "policies": [policy]}


def _server_group(item: Mapping[str, Any]) -> RemoteServerGroup:
    policy = item.get("policy") or (item.get("policies") or [""])[0]
    rules = {key: int(value) for key, value in (item.get("rules") or {}).items()}
    members = tuple(sorted(item.get("members") or ()))  # Nova's order varies from call to call
    return RemoteServerGroup(item["id"], item.get("name") or "", policy, rules, members)


def _server(item: Mapping[str, Any]) -> RemoteServer:
    # Nova's detailed listing carries the fault of a server in ERROR (or DELETED), so no GET per server.
    fault = item.get("fault") or {}
    message = str(fault.get("message") or "") if isinstance(fault, Mapping) else ""
    return RemoteServer(
        item["id"],
        item.get("name") or "",
        item.get("status") or "",
        item.get("hostId") or "",
        message,
        host=item.get("OS-EXT-SRV-ATTR:host") or None,  # admins only: absent for anyone else
        task_state=item.get("OS-EXT-STS:task_state") or None,
    )


def _migration(item: Mapping[str, Any]) -> RemoteMigration:
    return RemoteMigration(
        id=str(item.get("uuid") or item.get("id") or ""),
        server_id=str(item.get("instance_uuid") or ""),
        source_host=str(item.get("source_compute") or ""),
        dest_host=str(item.get("dest_compute") or ""),
        status=str(item.get("status") or ""),
        kind=MIGRATION_KINDS.get(str(item.get("migration_type") or ""), str(item.get("migration_type") or "")),
        created=str(item.get("created_at") or ""),
    )


def _quota(value: Any) -> int | None:
    """A limit or a count as Nova wrote it; None for anything else (a cloud that does not say)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _compute_host(item: Mapping[str, Any]) -> ComputeHost:
    return ComputeHost(
        str(item.get("host") or ""),
        enabled=item.get("status") == "enabled",
        up=item.get("state") == "up" and not item.get("forced_down", False),
    )


def _has_next_link(links: Any) -> bool:
    return any(link.get("rel") == "next" for link in links)


def _nova_message(response: Any) -> str:
    """Nova's words from `{"badRequest": {"code": 400, "message": "..."}}`, else the raw reply."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and len(body) == 1:
        (detail,) = body.values()
        if isinstance(detail, dict) and detail.get("message"):
            return str(detail["message"])
    text = (response.text or "").strip()
    return text[:500] or f"HTTP {response.status_code} {response.reason or ''}".strip()


def nova_error(response: Any) -> CloudError:
    """The `CloudError` for a failed Nova response, in Nova's words."""
    return _error_for(response.status_code, _nova_message(response))


def _error_for(status: int, message: str) -> CloudError:
    return ERRORS_BY_STATUS.get(status, CloudError)(message)


def _is_authentication(exc: ks_exceptions.HttpError) -> bool:
    """Whether `exc` answered a login (`POST .../auth/tokens`), not a call to the service."""
    return (getattr(exc, "url", None) or "").rstrip("/").endswith("/auth/tokens")


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Turn keystoneauth and openstacksdk failures into `CloudError`s; nothing of theirs escapes."""
    try:
        yield
    except CloudError:
        raise
    except ks_exceptions.HttpError as exc:  # e.g. Keystone refused the credentials while authenticating
        if _is_authentication(exc):
            # Keystone answers a revoked application credential with 404: that is a refused login,
            # never a NotFound, which would tell reconciliation that the tenant's groups are gone.
            raise Forbidden(f"Keystone refused the credentials ({exc.http_status}): {exc.message or exc}") from None
        raise _error_for(exc.http_status or 0, exc.message or str(exc)) from None
    except (ks_exceptions.ConnectionError, ks_exceptions.RequestTimeout) as exc:
        raise Unreachable(f"The cloud did not answer: {exc}") from None
    except (ks_exceptions.DiscoveryFailure, ks_exceptions.CatalogException) as exc:
        raise Unreachable(f"The cloud's endpoints could not be found: {exc}") from None
    except openstack.exceptions.HttpException as exc:
        raise _error_for(exc.status_code or 0, exc.details or str(exc)) from None
    except (ks_exceptions.ClientException, openstack.exceptions.SDKException) as exc:
        raise CloudError(f"{type(exc).__name__}: {exc}") from None


def check_cloud(access: CloudAccess, project: str = "") -> str:
    """Log in to the cloud of `access` as Cohort will, and find Nova in the catalog; say what is wrong.

    `project`: the project (id, or name in the user's domain) to log in to; without it the user's
    default project, if any. Returns a one-line summary; raises `Unreachable` (Keystone does not
    answer), `Forbidden` (Keystone refuses the credentials, or the project), `NotFound` (no compute
    endpoint in the catalog). Secrets never appear in a message. `admin_token` access is not checked.
    """
    if access.auth_type == "admin_token":
        return "not checked (admin_token: no Keystone)"
    url = _v3_url(access.auth_url)
    session = ks_session.Session(verify=access.verify_tls, timeout=DEFAULT_TIMEOUT)
    try:
        session.get(url, authenticated=False, raise_exc=False)
    except (ks_exceptions.ConnectionError, ks_exceptions.RequestTimeout) as exc:
        raise Unreachable(f"Keystone at {url} is unreachable: {type(exc).__name__}") from None
    credentials = dict(access.credentials)
    if access.auth_type in APPLICATION_CREDENTIAL_AUTH_TYPES:
        plugin = ks_v3.ApplicationCredential(auth_url=url, **credentials)
        who = f"application credential {credentials.get('application_credential_id') or ''}".strip()
    else:
        if not credentials.get("username") and not credentials.get("user_id"):
            return f"Keystone at {url} answers; no user in the cloud's credentials, so the login is checked per tenant"
        scope = {}
        if project:
            scope = (
                {"project_id": project}
                if _looks_like_id(project)
                else {"project_name": project, **_domain(credentials)}
            )
        elif credentials.get("project_id"):  # the project the cloud's admin calls are scoped to
            project = credentials["project_id"]
            scope = {"project_id": project}
        credentials = {key: value for key, value in credentials.items() if key not in PROJECT_KEYS}
        plugin = ks_v3.Password(auth_url=url, **credentials)
        who = f"user {credentials.get('username') or credentials.get('user_id')}"
        _login(session, plugin, f"Keystone at {url} refused {who}")
        if scope:
            plugin = ks_v3.Password(auth_url=url, **credentials, **scope)
            _login(
                session,
                plugin,
                f"Keystone at {url} accepted {who} but not on project {project!r}: "
                "the project does not exist, or the user has no role on it",
            )
    access_info = _login(session, plugin, f"Keystone at {url} refused {who}")
    if not access_info.project_id:
        return f"Keystone at {url} accepted {who} (no project: the compute endpoint is checked per tenant)"
    interface = access.options.get("interface", "public")
    try:
        compute = access_info.service_catalog.url_for(
            service_type="compute", interface=interface, region_name=access.region or None
        )
    except ks_exceptions.EndpointNotFound:
        compute = None
    if not compute:
        region = f" in region {access.region!r}" if access.region else ""
        raise NotFound(f"Keystone at {url} lists no compute endpoint{region} for project {access_info.project_id}.")
    return f"Keystone at {url} accepted {who} on project {access_info.project_id}; Nova at {compute}"


def _login(session: Any, plugin: Any, refused: str) -> Any:
    try:
        return plugin.get_access(session)
    except ks_exceptions.HttpError as exc:
        raise Forbidden(f"{refused} ({exc.http_status}): {exc.message}") from None
    except (ks_exceptions.ConnectionError, ks_exceptions.RequestTimeout) as exc:
        raise Unreachable(f"{refused}: {type(exc).__name__}") from None
    except ks_exceptions.ClientException as exc:
        raise CloudError(f"{refused}: {type(exc).__name__}: {exc}") from None


def _looks_like_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
