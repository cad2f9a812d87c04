"""Every event type Cohort writes, declared once.

Types are named as the reference (Waldur MasterMind) names them where it has one, so a consumer that
filters on them needs no change; Cohort's own types, for what the reference has no event for, follow
its pattern (`<entity>_<what happened>`). An event of a type in `STAFF_ONLY` is shown to staff only,
whatever its scope (a failed login names a username that may not exist; a cloud is the operator's).
"""

from enum import StrEnum


class EventType(StrEnum):
    # a server group's lifecycle, as the reference's generic resource events
    RESOURCE_CREATION_SCHEDULED = "resource_creation_scheduled"
    RESOURCE_CREATION_SUCCEEDED = "resource_creation_succeeded"
    RESOURCE_CREATION_FAILED = "resource_creation_failed"
    RESOURCE_UPDATE_SCHEDULED = "resource_update_scheduled"  # Cohort's own: a policy replacement
    RESOURCE_UPDATE_SUCCEEDED = "resource_update_succeeded"
    RESOURCE_UPDATE_FAILED = "resource_update_failed"  # Cohort's own
    RESOURCE_DELETION_SCHEDULED = "resource_deletion_scheduled"
    RESOURCE_DELETION_SUCCEEDED = "resource_deletion_succeeded"
    RESOURCE_DELETION_FAILED = "resource_deletion_failed"
    RESOURCE_PULL_SCHEDULED = "resource_pull_scheduled"
    # the reference's server group events: the Nova side, and reconciliation
    OPENSTACK_SERVER_GROUP_CREATED = "openstack_server_group_created"
    OPENSTACK_SERVER_GROUP_DELETED = "openstack_server_group_deleted"
    OPENSTACK_SERVER_GROUP_IMPORTED = "openstack_server_group_imported"
    OPENSTACK_SERVER_GROUP_PULLED = "openstack_server_group_pulled"
    OPENSTACK_SERVER_GROUP_CLEANED = "openstack_server_group_cleaned"
    # Cohort's own server group events
    OPENSTACK_SERVER_GROUP_UPDATED = "openstack_server_group_updated"  # name or description, no cloud work
    OPENSTACK_SERVER_GROUP_UNLINKED = "openstack_server_group_unlinked"
    OPENSTACK_SERVER_GROUP_SET_OK = "openstack_server_group_set_ok"
    OPENSTACK_SERVER_GROUP_SET_ERRED = "openstack_server_group_set_erred"
    OPENSTACK_SERVER_GROUP_ERRED = "openstack_server_group_erred"  # a settled group found broken by a pull
    OPENSTACK_SERVER_GROUP_RECOVERED = "openstack_server_group_recovered"  # stuck in transition, recovered
    OPENSTACK_SERVER_GROUP_PLACEMENT_CHANGED = "openstack_server_group_placement_changed"
    OPENSTACK_SERVER_GROUP_HEAL_REQUESTED = "openstack_server_group_heal_requested"
    OPENSTACK_SERVER_GROUP_HEAL_MOVE_SUCCEEDED = "openstack_server_group_heal_move_succeeded"
    OPENSTACK_SERVER_GROUP_HEAL_MOVE_FAILED = "openstack_server_group_heal_move_failed"
    OPENSTACK_SERVER_GROUP_HEAL_SUCCEEDED = "openstack_server_group_heal_succeeded"
    OPENSTACK_SERVER_GROUP_HEAL_STOPPED = "openstack_server_group_heal_stopped"
    # tenants and clouds (the `cohort tenant` and `cohort cloud` commands, the admin)
    OPENSTACK_TENANT_CREATED = "openstack_tenant_created"
    OPENSTACK_TENANT_UPDATED = "openstack_tenant_updated"
    OPENSTACK_TENANT_QUOTA_CHANGED = "openstack_tenant_quota_changed"  # Cohort's own: a limit changed in Nova
    SERVICE_SETTINGS_CREATED = "service_settings_created"
    SERVICE_SETTINGS_UPDATED = "service_settings_updated"
    SERVICE_SETTINGS_DELETED = "service_settings_deleted"
    # structure: customers, projects, roles, users
    CUSTOMER_CREATION_SUCCEEDED = "customer_creation_succeeded"
    CUSTOMER_UPDATE_SUCCEEDED = "customer_update_succeeded"
    CUSTOMER_DELETION_SUCCEEDED = "customer_deletion_succeeded"
    PROJECT_CREATION_SUCCEEDED = "project_creation_succeeded"
    PROJECT_UPDATE_SUCCEEDED = "project_update_succeeded"
    PROJECT_DELETION_SUCCEEDED = "project_deletion_succeeded"
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    USER_CREATION_SUCCEEDED = "user_creation_succeeded"
    USER_UPDATE_SUCCEEDED = "user_update_succeeded"
    USER_DELETION_SUCCEEDED = "user_deletion_succeeded"
    # signing in
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"  # Cohort's own: a token deleted in the admin
    AUTH_LOGIN_FAILED_WITH_USERNAME = "auth_login_failed_with_username"


STAFF_ONLY = frozenset(
    {
        EventType.AUTH_LOGIN_FAILED_WITH_USERNAME,
        EventType.TOKEN_CREATED,
        EventType.TOKEN_REVOKED,
        EventType.SERVICE_SETTINGS_CREATED,
        EventType.SERVICE_SETTINGS_UPDATED,
        EventType.SERVICE_SETTINGS_DELETED,
        EventType.USER_CREATION_SUCCEEDED,
        EventType.USER_UPDATE_SUCCEEDED,
        EventType.USER_DELETION_SUCCEEDED,
    }
)
