"""JSON answers for what never reaches a DRF view: unknown paths, and errors outside DRF."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

# Without csrf_exempt, Django's CSRF check answers an unsafe method on these views first (403), so a
# POST to an unknown path would not be a 404, nor a POST to /api/ a 405.


@csrf_exempt
def not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)


def bad_request(request, exception=None):
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception=None):
    return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)


@csrf_exempt
def api_root(request):
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return JsonResponse(
            {"detail": f'Method "{request.method}" not allowed.'}, status=405, headers={"Allow": "GET, HEAD, OPTIONS"}
        )
    return JsonResponse(
        {
            name: request.build_absolute_uri(f"/api/{name}/")
            for name in (
                "openstack-server-groups",
                "openstack-tenants",
                "openstack-instances",
                "customers",
                "projects",
                "service-settings",
            )
        }
    )


def csrf_failure(request, reason=""):
    return JsonResponse({"detail": f"CSRF Failed: {reason}"}, status=403)
