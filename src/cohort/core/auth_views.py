"""`POST /api-auth/password/`: trade a username and password for an API token; and the admin's login.

Failed attempts are throttled per username and per client address (`cohort.core.throttling`): a
throttled attempt is refused with 429 before its password is hashed. No answer may be cached. The
admin's login page checks the same passwords, so it shares the same counts.
"""

from django.contrib import admin
from django.contrib.auth import authenticate
from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers
from rest_framework import exceptions, serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from cohort.core.authentication import issue_token
from cohort.core.throttling import LoginThrottle
from cohort.metrics.instruments import login_failures


class PasswordSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)


class PasswordLoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request) -> str:
        # Without a challenge DRF turns AuthenticationFailed into a 403; bad credentials are a 401.
        return "Token"

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)  # a token must not stay in any cache
        return response

    def post(self, request):
        serializer = PasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        throttle = LoginThrottle(request, serializer.validated_data["username"])
        try:
            throttle.check()
        except Throttled:
            login_failures.labels("api", "throttled").inc()
            raise
        user = authenticate(request, **serializer.validated_data)
        if user is None or not user.is_active:
            login_failures.labels("api", "invalid").inc()
            raise exceptions.AuthenticationFailed("Invalid username or password.")
        throttle.succeeded()
        return Response({"token": issue_token(user)})


def admin_login(request, **kwargs):
    """The admin's own login view, behind the same throttle as the API's."""
    if request.method != "POST":
        return admin.site.login(request, **kwargs)
    throttle = LoginThrottle(request, request.POST.get("username", ""))
    try:
        throttle.check()
    except Throttled as refused:
        login_failures.labels("admin", "throttled").inc()
        return JsonResponse({"detail": refused.detail}, status=429, headers={"Retry-After": str(refused.wait)})
    response = admin.site.login(request, **kwargs)
    if request.user.is_authenticated and response.status_code == 302:
        throttle.succeeded()
    else:
        login_failures.labels("admin", "invalid").inc()
    return response
