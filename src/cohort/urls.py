"""URL routes. Every path under /api/ ends with a slash; unknown paths answer in JSON."""

from django.contrib import admin
from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from cohort.core import manual, views
from cohort.core.auth_views import PasswordLoginView, admin_login
from cohort.core.schema import RedocView, SchemaView, SwaggerView, password_login_schema
from cohort.health import views as health
from cohort.metrics.views import metrics
from cohort.openstack.api.views import InstanceViewSet, ServerGroupViewSet, TenantViewSet
from cohort.structure.api.views import CustomerViewSet, EventViewSet, ProjectViewSet, ServiceSettingsViewSet

router = SimpleRouter(trailing_slash=True)
router.register("openstack-server-groups", ServerGroupViewSet, basename="openstack-server-group")
router.register("openstack-tenants", TenantViewSet, basename="openstack-tenant")
router.register("openstack-instances", InstanceViewSet, basename="openstack-instance")
router.register("customers", CustomerViewSet, basename="customer")
router.register("projects", ProjectViewSet, basename="project")
router.register("service-settings", ServiceSettingsViewSet, basename="service-settings")
router.register("events", EventViewSet, basename="event")

urlpatterns = [
    path("api/", include(router.urls)),
    path("api/", views.api_root, name="api-root"),
    # OpenAPI 3, and its two readers with their assets served locally (no CDN); public
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("api-auth/password/", password_login_schema(PasswordLoginView).as_view(), name="auth-password"),
    path("admin/login/", admin_login),  # before the admin's own route to it: throttled
    path("admin/", admin.site.urls),
    re_path(r"^api/.*$", views.not_found),
    path("ui/", include("cohort.ui.urls")),  # the web page: session login, no script
    # The manual, once `./dev docs` has built it (a JSON 404 until then): public, as the schema is
    path("docs/", manual.page, name="manual"),
    path("docs/<path:path>", manual.page),
    # Operations: not under /api/, not in the schema
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics, name="metrics"),
]

handler400 = "cohort.core.views.bad_request"
handler403 = "cohort.core.views.permission_denied"
handler404 = "cohort.core.views.not_found"
handler500 = "cohort.core.views.server_error"
