"""Token authentication with a sliding expiry that does not write on every request.

`Authorization: Token <key>` (the keyword in any case). A token expires after
`TOKEN_LIFETIME_SECONDS` without use. Its last use is written back only when the stored value is
older than `TOKEN_RENEW_INTERVAL_SECONDS`, so a burst of requests costs one read each and at most
one write a minute per token; expiry is exact to within that interval.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from rest_framework import authentication, exceptions

from cohort.core import statements
from cohort.core.models import SignInLink, Token

KEYWORD = "token"

# Sent with `user=` in the transaction that stores a new token: the event log records it
# (`cohort.events.receivers`) without core knowing that app.
token_issued = Signal()
# Sent with `user=` (whose token) and `actor=` (who revoked it) in the transaction that deletes a token.
token_revoked = Signal()


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_token(user) -> str:
    """Create a new token for `user` and return its key (shown once, stored only as a digest)."""
    key = secrets.token_hex(20)
    with transaction.atomic():
        Token.objects.create(digest=digest(key), user=user, last_used=timezone.now())
        token_issued.send(sender=Token, user=user)
    return key


SIGN_IN_LINK_SECONDS = 600


def issue_sign_in_link(user) -> str:
    """A key for a one-time sign-in link of `user`, good for `SIGN_IN_LINK_SECONDS` (stored as a digest)."""
    key = secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(seconds=SIGN_IN_LINK_SECONDS)
    SignInLink.objects.filter(expires__lte=timezone.now()).delete()
    SignInLink.objects.create(digest=digest(key), user=user, expires=expires)
    return key


def redeem_sign_in_link(key: str):
    """The active user whose link `key` is, if it is unused and unexpired; the link is used up either
    way. Of two requests with one key, only the one whose DELETE removes the row signs in."""
    link = SignInLink.objects.filter(digest=digest(key)).select_related("user").first()
    if link is None or not SignInLink.objects.filter(digest=link.digest).delete()[0]:
        return None
    if link.expires <= timezone.now() or not link.user.is_active:
        return None
    return link.user


def find_token(token_digest: str) -> Token | None:
    """The token of that digest, with its user, or None: by SQL compiled once (compiling it was most
    of the cost of authenticating a request; `cohort.core.statements`)."""
    return statements.first("authentication.find_token", _token_by_digest, digest=token_digest)


def _token_by_digest(digest: str):
    return Token.objects.filter(digest=digest).select_related("user").order_by()


def purge_expired_tokens() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.TOKEN_LIFETIME_SECONDS)
    deleted, _ = Token.objects.filter(last_used__lt=cutoff).delete()
    return deleted


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header. Token string should not contain spaces.")
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return self.authenticate_key(key)

    def authenticate_key(self, key: str):
        token = find_token(digest(key))
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        idle = now - token.last_used
        if idle > timedelta(seconds=settings.TOKEN_LIFETIME_SECONDS):
            raise exceptions.AuthenticationFailed("Token has expired.")
        if idle > timedelta(seconds=settings.TOKEN_RENEW_INTERVAL_SECONDS):
            Token.objects.filter(digest=token.digest).update(last_used=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"
