"""Signing in, recorded: a token issued or revoked, a failed login (all staff only).

Core, where sign-in lives, knows no app above it; it announces a token with its own
`token_issued` and `token_revoked` signals (`cohort.core.authentication`, sent in the transaction that
stores or deletes the token), and
Django's `authenticate` announces a failed login (API and admin alike) with `user_login_failed`.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver

from cohort.core.authentication import token_issued, token_revoked
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


@receiver(token_revoked, dispatch_uid="cohort.events.token_revoked")
def record_token_revoked(sender, *, user, actor=None, **kwargs) -> None:
    event_record(
        event_type=EventType.TOKEN_REVOKED,
        message=f"A token of user {user.get_username()} has been revoked.",
        actor=actor,
        context={"token_user_username": user.get_username()},
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
