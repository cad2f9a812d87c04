"""The web page at /ui/: the server groups a user may see, with a picture of each group's placement,
and buttons to create, pull and delete groups.

It is the API's twin for people: the rows come from the same selectors (`cohort.openstack.selectors`),
each action is judged by the rule the API declares for it (`ServerGroupViewSet.action_permissions`,
`TenantViewSet.action_permissions`) and done by the same service (`cohort.openstack.services`). A user
signs in with the password `cohort user` gave them, through Django's session login, throttled as the
API's password login is (`cohort.core.throttling`). Every form is a POST with Django's CSRF token.
What goes wrong (a refused action, a state that does not allow it, bad input) comes back as a
message on the list, never as an error page; a group the user cannot see is 404 and one they may not
manage 403, as in the API. The pages carry no script at all, and say so in their
Content-Security-Policy.

A page of the list costs the same number of queries whatever its number of groups: the page of
groups with their tenants, projects and customers, their members, which of them the user may
manage, and the tenants of the two forms.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login as session_login
from django.contrib.auth import logout as session_logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from rest_framework import exceptions
from rest_framework.exceptions import Throttled

from cohort.core.authentication import redeem_sign_in_link
from cohort.core.errors import DomainError, Gone
from cohort.core.states import State
from cohort.core.throttling import LoginThrottle
from cohort.metrics.instruments import login_failures
from cohort.openstack import selectors, services
from cohort.openstack.api.views import ServerGroupViewSet, TenantViewSet
from cohort.openstack.models import ServerGroup
from cohort.openstack.placement import placement_reports
from cohort.openstack.quotas import SERVER_GROUP_COUNT, has_room, tenant_quotas, with_quota_usage
from cohort.structure.selectors import objects_manageable_by
from cohort.ui import pictures
from cohort.ui.forms import CreateForm, FilterForm

logger = logging.getLogger(__name__)

PAGE_SIZE = 10
# No script, no frame, nothing from elsewhere: a style sheet and an icon of the app's own.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def secured(view):
    """The page's response under the UI's Content-Security-Policy, and never cached (it shows one
    user's records)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        add_never_cache_headers(response)
        return response

    return wrapped


def signed_in(view):
    """A page for signed-in users: anyone else is sent to the login page (and back after it). Django
    signs out a user who is no longer active (their session finds no user)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("ui:login"))
        return view(request, *args, **kwargs)

    wrapped.signed_in_only = True  # tests/api/test_routes.py checks every /ui/ route has it
    return secured(wrapped)


def refused(request, status: int, message: str):
    return render(request, "ui/refused.html", {"message": message}, status=status)


def back(request):
    """Where a form's "next" field says, if that is a page of the list; else the list."""
    target = request.POST.get("next", "")
    home = reverse("ui:groups")
    if target.startswith(home) and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(home)


# --- sign in and out ------------------------------------------------------------------------------


@secured
@sensitive_post_parameters("password")
@require_http_methods(["GET", "HEAD", "POST"])
def login(request):
    """Django's login form, behind the same throttle as `POST /api-auth/password/` (failures per
    username and per client address, refused with 429 before the password is hashed)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not (target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})):
        target = reverse("ui:groups")
    if request.method != "POST":
        if request.user.is_authenticated:
            return redirect(target)
        return render(request, "ui/login.html", {"form": AuthenticationForm(request), "next": target})
    form = AuthenticationForm(request, data=request.POST)
    username, password = request.POST.get("username", ""), request.POST.get("password", "")
    if username and password:  # else the form says what is missing, and nothing is counted
        throttle = LoginThrottle(request, username)
        try:
            throttle.check()
        except Throttled as refusal:
            login_failures.labels("ui", "throttled").inc()
            context = {"form": AuthenticationForm(request), "next": target, "throttled": refusal.wait}
            response = render(request, "ui/login.html", context, status=429)
            response.headers["Retry-After"] = str(refusal.wait)
            return response
        if form.is_valid():
            throttle.succeeded()
            session_login(request, form.get_user())
            return redirect(target)
        login_failures.labels("ui", "invalid").inc()
    return render(request, "ui/login.html", {"form": form, "next": target})


@secured
@require_safe
def sign_in_link(request, key: str):
    """The one-time link of `cohort serve`'s banner: signs its user in, once, within ten minutes, and
    only from this machine (the banner prints it for whoever sits at the terminal that started Cohort)."""
    if not ipaddress.ip_address(request.META.get("REMOTE_ADDR", "0.0.0.0")).is_loopback:
        return refused(request, 403, "A sign-in link works only on the machine that runs Cohort.")
    user = redeem_sign_in_link(key)
    if user is None:
        message = "This sign-in link has been used or has expired: sign in with a password instead."
        return refused(request, 410, message)
    session_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("ui:groups")


@signed_in
@require_POST
def logout(request):
    session_logout(request)
    return redirect("ui:login")


# --- the list -------------------------------------------------------------------------------------


def verdicts() -> list[tuple[str, str]]:
    return list(ServerGroup.PlacementStatus.choices)


@signed_in
@require_safe
def groups(request):
    user = request.user
    visible_tenants = list(selectors.tenants_visible_to(user=user))
    filters = FilterForm(request.GET, tenants=visible_tenants, verdicts=verdicts())
    listed = selectors.server_groups_visible_to(user=user)
    if filters.is_valid():
        if filters.cleaned_data["tenant"]:
            listed = listed.filter(tenant__uuid=filters.cleaned_data["tenant"])
        if filters.cleaned_data["verdict"]:
            listed = listed.filter(placement_status__in=filters.cleaned_data["verdict"])
    else:
        listed = listed.none()  # a filter that does not parse shows nothing, and says why
    listed = listed.select_related("tenant__project__customer", "tenant__service_settings")
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    manageable = set(
        objects_manageable_by(
            user=user, queryset=selectors.server_groups_visible_to(user=user).filter(pk__in=[g.pk for g in shown])
        ).values_list("pk", flat=True)
    )
    creatable = list(
        with_quota_usage(
            selectors.tenants_manageable_by(user=user).filter(state=State.OK).select_related("project__customer")
        )
    )
    full = {tenant.uuid.hex: quota_full(tenant) for tenant in creatable if quota_full(tenant)}
    reports = placement_reports(shown, staff=user.is_staff)
    kept = [(key, value) for key, values in request.GET.lists() if key != "page" for value in values]
    context = {
        "groups": [
            {"group": group, "can_manage": group.pk in manageable, "picture": pictures.picture(report)}
            for group, report in zip(shown, reports, strict=True)
        ],
        "page": page,
        "filters": filters,
        "create_form": CreateForm(tenants=creatable, full=full) if creatable else None,
        "create_blocked": " ".join(full.values()) if creatable and len(full) == len(creatable) else "",
        "quota_bars": [{"tenant": tenant, "quotas": quota_bars(tenant)} for tenant in visible_tenants],
        "query": urlencode(kept),
        "here": request.get_full_path(),
    }
    return render(request, "ui/groups.html", context)


QUOTA_LABELS = {"server_group_count": "Server groups", "server_group_member_count": "Members of the largest group"}


def quota_bars(tenant) -> list[dict]:
    """Each quota of `tenant` as the page draws it: a bar of usage over limit, red once at the limit."""
    bars = []
    for quota in tenant_quotas(tenant):
        limit, usage = quota["limit"], quota["usage"]
        bounded = limit is not None and limit >= 0
        bars.append(
            {
                **quota,
                "label": QUOTA_LABELS[quota["name"]],
                "bounded": bounded,
                "full": bounded and usage >= limit,
                "shown": "limit unknown" if limit is None else "unlimited" if limit < 0 else f"{usage} of {limit}",
            }
        )
    return bars


def quota_full(tenant) -> str:
    """Why a new group cannot go into `tenant` ("" when it can): its server_group_count is used up."""
    if has_room(tenant.server_group_quota, tenant.server_group_usage):
        return ""
    return (
        f"{tenant.name} is full: its quota {SERVER_GROUP_COUNT} allows {tenant.server_group_quota} server groups "
        f"and it has {tenant.server_group_usage}."
    )


# --- the buttons ----------------------------------------------------------------------------------


@signed_in
@require_POST
def create(request):
    user = request.user
    tenants = list(
        selectors.tenants_manageable_by(user=user).filter(state=State.OK).select_related("project__customer")
    )
    form = CreateForm(request.POST, tenants=tenants)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return back(request)
    tenant = next(t for t in tenants if t.uuid.hex == form.cleaned_data["tenant"])
    if not allowed(request, TenantViewSet, "create_server_group", tenant):
        return refused(request, 403, "You do not have permission to perform this action.")
    try:
        group = services.server_group_create(
            tenant=tenant,
            name=form.cleaned_data["name"],
            policy=form.cleaned_data["policy"],
            rules=form.rules(),
            actor=user,
        )
    except DomainError as error:
        messages.error(request, f"{form.cleaned_data['name']}: {message_of(error)}")
    else:
        messages.success(request, f"Server group {group.name} is being created in {tenant.name}.")
    return back(request)


@signed_in
@require_POST
def pull(request, uuid):
    return act(request, uuid, "pull", services.server_group_pull, "Pull of {name} was scheduled.")


@signed_in
@require_POST
def delete(request, uuid):
    return act(request, uuid, "destroy", services.server_group_delete, "Server group {name} is being deleted.")


@signed_in
@require_POST
def mend(request, uuid):
    """Staff's Mend button: a heal of the group, as `POST .../heal/` asks for it."""
    return act(
        request, uuid, "heal", services.server_group_heal, "Heal of {name} was scheduled: its servers move one by one."
    )


def allowed(request, viewset, action: str, obj) -> bool:
    """The API's rule for `action` of `viewset`, judged on `obj` as the API judges it."""
    rule = viewset.action_permissions[action]()
    return rule.has_object_permission(request, None, obj)


def act(request, uuid, action: str, service, done: str):
    group = selectors.server_groups_visible_to(user=request.user).filter(uuid=uuid).first()
    if group is None:
        return refused(request, 404, "Server group not found.")
    try:
        if not allowed(request, ServerGroupViewSet, action, group):
            return refused(request, 403, "You do not have permission to perform this action.")
    except exceptions.NotFound:  # deleted by a concurrent request after this one found it
        return refused(request, 404, "Server group not found.")
    try:
        service(group=group, actor=request.user)
    except DomainError as error:
        messages.error(request, f"{group.name}: {message_of(error)}")
    else:
        messages.success(request, done.format(name=group.name))
    return back(request)


def message_of(error: DomainError) -> str:
    if isinstance(error, Gone):
        return "it was deleted meanwhile."
    return getattr(error, "message", None) or str(error)
