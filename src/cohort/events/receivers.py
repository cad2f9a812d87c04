"""Signing in, recorded: a token issued, a failed login (staff only).

Core, where sign-in lives, knows no app above it; it announces a token with its own
`cohort.core.authentication.token_issued` signal (sent in the transaction that stores the token), and
Django's `authenticate` announces a failed login (API and admin alike) with `user_login_failed`.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver

from cohort.core.authentication import token_issued
from cohort.core.throttling import client_address
from cohort.events.services import event_record
from cohort.events.types import EventType


@receiver(token_issued, dispatch_uid="cohort.events.token_issued")
def record_token(sender, *, user, **kwargs) -> None:
    event_record(
        event_type=EventType.TOKEN_CREATED,
        message=f"Token has been issued to user {user.get_username()}.",
        actor=user,
    )


@receiver(user_login_failed, dispatch_uid="cohort.events.login_failed")
def record_login_failure(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    context = {"username": username}
    if request is not None:
        context["ip_address"] = client_address(request)
    with transaction.atomic():
        event_record(
            event_type=EventType.AUTH_LOGIN_FAILED_WITH_USERNAME,
            message=f"User {username} failed to log in with username and password.",
            context=context,
        )
