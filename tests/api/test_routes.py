"""Every route is scoped and authorised, or public on purpose: an endpoint cannot be added without both.

The tests walk Django's URL resolver (so a view routed outside the router is found too) and check,
for every viewset and every method it answers: that its rows come from a selector through the base
viewset (`cohort.core.viewsets.ScopedViewSet`), that each of its actions has a declared rule, and,
by requests, that a caller who cannot see an object gets 404 and one who sees it but may not run the
action gets 403, on every detail route.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLResolver, get_resolver, reverse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.viewsets import ViewSetMixin

from cohort.core import manual
from cohort.core import views as core_views
from cohort.core.auth_views import PasswordLoginView
from cohort.core.permissions import READ, CanSee
from cohort.core.schema import RedocView, SchemaView, SwaggerView
from cohort.core.viewsets import ScopedViewSet
from cohort.health import views as health_views
from cohort.metrics import views as metrics_views
from cohort.openstack.api.views import ServerGroupViewSet
from cohort.ui import views as ui_views
from tests.api.support import assert_error
from tests.conftest import make_group, make_user

SRC = Path(__file__).resolve().parents[2] / "src" / "cohort"

# Views anyone may call: they show no record. Each is here on purpose; a new one needs a reason.
PUBLIC = {
    SchemaView,  # the OpenAPI document
    SwaggerView,  # its two readers
    RedocView,
    PasswordLoginView,  # how a token is got
    core_views.api_root,  # the list of endpoints
    core_views.not_found,  # the JSON 404 of unknown paths
    manual.page,  # the built manual, as public as the schema it describes
    health_views.live,  # health checks for load balancers and orchestrators: nothing secret in them
    health_views.ready,
    metrics_views.metrics,  # guarded by its own rule: COHORT_METRICS_TOKEN, else loopback clients only
    ui_views.login,  # the web page's login form: how a session is got
    ui_views.sign_in_link,  # the banner's one-time link: its key is the credential (tests/ui/test_pages.py)
}

# Collection actions that act on an object named in the request body and judge their rule on it
# (`check_object_permissions`), since no `get_object` does. Any other collection action may only
# have CanSee: its rows are the scope, and an object rule there would never be asked.
CHECKS_THE_OBJECT_IN_ITS_BODY = {(ServerGroupViewSet, "create")}  # the tenant

# The methods of the base viewset that make it scoped and authorised; a viewset must not replace them.
BASE_HOOKS = ("get_queryset", "get_object", "get_permissions", "check_permissions", "check_object_permissions")

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "Not found."}


def url_patterns(patterns=None, prefix=""):
    """(route, pattern) for every URL pattern of the project, outside the admin site."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if route.startswith("admin/"):
            continue  # Django's admin: its own staff-only login, tested in tests/test_admin.py
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, route)
        else:
            yield route, pattern


def viewset_routes():
    return [
        (route, pattern)
        for route, pattern in url_patterns()
        if issubclass(getattr(pattern.callback, "cls", object), ViewSetMixin)
    ]


def actions_of(pattern) -> dict[str, str]:
    """{method: action} of a routed viewset, with OPTIONS, which DRF answers as the action "metadata"."""
    return {**pattern.callback.actions, "options": "metadata"}


def test_the_walk_finds_every_endpoint():
    basenames = {pattern.callback.initkwargs["basename"] for _, pattern in viewset_routes()}
    assert basenames == {
        "openstack-server-group",
        "openstack-tenant",
        "openstack-instance",
        "customer",
        "project",
        "service-settings",
        "event",
    }


def page_routes():
    """The web page's routes (`cohort.ui`) other than its login form, with a uuid filled in."""
    for route, pattern in url_patterns():
        if route.startswith("ui/") and pattern.callback not in (ui_views.login, ui_views.sign_in_link):
            yield "/" + route.replace("<uuid:uuid>", "{uuid}"), pattern


def test_every_view_is_a_scoped_viewset_or_public_on_purpose():
    for route, pattern in url_patterns():
        view = getattr(pattern.callback, "cls", None) or pattern.callback
        if isinstance(view, type) and issubclass(view, ViewSetMixin):
            assert issubclass(view, ScopedViewSet), f"{route}: {view.__name__} must derive from ScopedViewSet"
        elif route.startswith("ui/") and view not in PUBLIC:
            # a page of the web page: for signed-in users only (`cohort.ui.views.signed_in`), its rows
            # from the selectors (test_views_read_no_model_directly), its actions judged by the API's
            # rules (test_pages_refuse_who_may_not_see_or_act)
            assert getattr(view, "signed_in_only", False), f"{route}: {view.__name__} must be @signed_in"
        else:
            assert view in PUBLIC, (
                f"{route}: {getattr(view, '__name__', view)} is neither a ScopedViewSet nor in PUBLIC; "
                "route records through a ScopedViewSet, or add the view to PUBLIC saying why anyone may call it"
            )


@pytest.mark.parametrize("route, pattern", [pytest.param(*item, id=item[1].name) for item in viewset_routes()])
def test_every_action_has_a_rule(route, pattern):
    viewset = pattern.callback.cls
    for method, action in actions_of(pattern).items():
        rule = viewset.action_permissions.get(action)
        assert isinstance(rule, type) and issubclass(rule, BasePermission), (
            f"{method.upper()} {route}: {viewset.__name__}.action_permissions has no rule for {action!r}"
        )
        if not pattern.callback.initkwargs.get("detail"):
            assert rule is CanSee or (viewset, action) in CHECKS_THE_OBJECT_IN_ITS_BODY, (
                f"{method.upper()} {route}: the collection action {action!r} has the rule {rule.__name__}, "
                "which no get_object will ask: judge it on the object the action acts on with "
                "check_object_permissions, and add the action to CHECKS_THE_OBJECT_IN_ITS_BODY"
            )


@pytest.mark.parametrize("route, pattern", [pytest.param(*item, id=item[1].name) for item in viewset_routes()])
def test_every_viewset_reads_through_a_selector(route, pattern):
    viewset = pattern.callback.cls
    selector = viewset.visible_to
    assert callable(selector) and selector.__module__.endswith(".selectors"), (
        f"{viewset.__name__}.visible_to must be a selector (a function in a selectors module), not {selector!r}"
    )
    if viewset.acts_on is not None:
        assert viewset.acts_on.__module__ == selector.__module__, (
            f"{viewset.__name__}.acts_on must be a selector of the same module as visible_to"
        )
    assert viewset.queryset is None, f"{viewset.__name__} has a queryset, which bypasses its selector"
    for hook in BASE_HOOKS:
        assert getattr(viewset, hook) is getattr(ScopedViewSet, hook), (
            f"{viewset.__name__}.{hook} replaces the base viewset's, which scopes and authorises"
        )


def test_views_read_no_model_directly():
    """Rows reach a view through its selector; a manager in a view would skip the scope."""
    for path in [*SRC.glob("*/api/views.py"), SRC / "ui" / "views.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("objects", "_default_manager"):
                raise AssertionError(f"{path.relative_to(SRC)}:{node.lineno} reads .{node.attr}; use a selector")


@pytest.fixture
def acme_objects(world):
    """One visible object of acme behind every detail route, by the viewset's basename."""
    from django.db import transaction

    from cohort.events.models import Event
    from cohort.events.services import event_record
    from cohort.openstack.models import Instance

    group = make_group(world.tenant, "acme-group")
    with transaction.atomic():
        event = event_record(event_type="openstack_server_group_imported", message="imported", scope=group)
    return {
        "event": Event.objects.get(pk=event.pk),
        "openstack-server-group": group,
        "openstack-tenant": world.tenant,
        "openstack-instance": Instance.objects.create(
            tenant=world.tenant, server_group=group, name="a-1", backend_id="a-1"
        ),
        "customer": world.acme,
        "project": world.web,
        "service-settings": world.cloud,
    }


def detail_requests(objects):
    """(method, path, rule) of every method of every detail route, on acme's object."""
    for _route, pattern in viewset_routes():
        if not pattern.callback.initkwargs.get("detail"):
            continue
        basename = pattern.callback.initkwargs["basename"]
        assert basename in objects, f"add an object of {basename} to acme_objects"
        path = reverse(pattern.name, kwargs={"uuid": objects[basename].uuid.hex})
        for method, action in dict(pattern.callback.actions).items():  # DRF adds "head" on first use
            yield method, path, pattern.callback.cls.action_permissions.get(action)


def send(client, method, path):
    if method in ("post", "put", "patch"):
        return getattr(client, method)(path, {}, format="json")
    return getattr(client, method)(path)


def test_a_caller_who_cannot_see_the_object_gets_404_on_every_detail_route(world, api, acme_objects):
    stranger = api(world.users.stranger)
    for method, path, _ in detail_requests(acme_objects):
        response = send(stranger, method, path)
        assert response.status_code == 404, (method, path, response.status_code)
        if method != "head":
            assert_error(response, 404, NOT_FOUND)


def test_a_caller_who_sees_the_object_but_may_not_act_gets_403_on_every_detail_route(world, api, acme_objects):
    member = api(world.users.member)  # sees all of acme, manages none of it, is not staff
    checked = 0
    for method, path, rule in detail_requests(acme_objects):
        if rule is CanSee:
            continue
        checked += 1
        assert_error(send(member, method, path), 403, FORBIDDEN)
    assert checked >= 9


@pytest.mark.parametrize("user", ["anonymous", "inactive"])
def test_every_scope_fails_closed(world, globex_only, acme_objects, user):
    """Whatever exists, a caller who is not signed in, or no longer active, is shown nothing."""
    if user == "inactive":
        caller = make_user("inactive")
        caller.is_active = False
        caller.save()
    else:
        caller = AnonymousUser()
    for route, pattern in viewset_routes():
        request = Request(APIRequestFactory().get("/"))
        request.user = caller
        view = pattern.callback.cls(request=request, action="list", kwargs={}, format_kwarg=None)
        assert not view.get_queryset().exists(), f"{route} shows rows to an {user} caller"


def test_an_action_without_a_rule_is_refused(caplog):
    class Careless(ScopedViewSet):
        visible_to = staticmethod(lambda *, user: None)
        action_permissions = {"list": CanSee}

        def destroy(self, request, uuid=None):
            raise AssertionError("ran without a rule")

    response = Careless.as_view({"delete": "destroy"})(APIRequestFactory().delete("/"), uuid="x")
    assert response.status_code == 500 and response.data == {"detail": "Internal server error."}
    assert "Careless.action_permissions has no rule for the action 'destroy'" in caplog.text


def test_a_viewset_without_a_selector_shows_nothing_but_an_error():
    class Forgetful(ScopedViewSet):
        action_permissions = READ

    with pytest.raises(ImproperlyConfigured, match="has no visible_to"):
        Forgetful(request=None, action="list").get_queryset()


def test_the_walk_finds_every_page():
    assert {route for route, _ in page_routes()} == {
        "/ui/",
        "/ui/logout/",
        "/ui/groups/create/",
        "/ui/groups/{uuid}/pull/",
        "/ui/groups/{uuid}/delete/",
        "/ui/groups/{uuid}/mend/",
    }


def test_pages_refuse_who_may_not_see_or_act(world, acme_objects):
    """Anonymous: sent to the login page, on every page and method. On a page of one group: 404 for
    who cannot see it, 403 for who sees it but may not manage it (as the API answers)."""
    from django.test import Client

    group = acme_objects["openstack-server-group"]
    checked = 0
    for route, _ in page_routes():
        path = route.format(uuid=group.uuid)
        for method in ("get", "post"):
            response = getattr(Client(), method)(path)
            assert response.status_code == 302 and response["Location"].startswith("/ui/login/?next="), (method, path)
        if "{uuid}" not in route:
            continue
        for user, status in ((world.users.stranger, 404), (world.users.member, 403)):
            client = Client()
            client.force_login(user)
            assert client.post(path).status_code == status, (path, user.username)
            checked += 1
    assert checked == 6  # pull, delete and mend
    group.refresh_from_db()
    assert group.state == "OK"
