"""What every Cohort record shares: a public uuid, timestamps, and the lifecycle state.

Records are addressed on the wire by `uuid` (32 lowercase hex digits); the integer primary key never
leaves the database. A `StateModel` row starts in its first state when it is inserted, and every later
change of state goes through `cohort.core.states.move`, a conditional UPDATE, so two processes can
never both win a transition. A `StatusModel` row (a cloud, a tenant) has no transitions: it is usable
(`OK`) or not (`ERRED`), with the reason.
"""

import uuid

from django.contrib.auth import get_user_model
from django.db import models

from cohort.core.states import State


class UuidModel(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        abstract = True


class TimeStampedModel(models.Model):
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    modified = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


class StateModel(models.Model):
    state = models.CharField(max_length=20, choices=State.choices, default=State.CREATION_SCHEDULED)
    error_message = models.TextField(blank=True, default="")
    error_traceback = models.TextField(blank=True, default="")

    class Meta:
        abstract = True


class StatusModel(models.Model):
    state = models.CharField(max_length=20, choices=State.choices, default=State.OK)
    error_message = models.TextField(blank=True, default="")

    class Meta:
        abstract = True


class Token(models.Model):
    """An API token. Only the SHA-256 digest of the key is stored: a database dump grants nothing."""

    digest = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(get_user_model(), on_delete=models.CASCADE, related_name="api_tokens")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField()

    def __str__(self) -> str:
        return f"token of {self.user} ({self.digest[:8]}…)"


class LoginFailures(models.Model):
    """Failed password logins of one username or one client address in the current time window;
    written only by `cohort.core.throttling`, with single-statement updates."""

    key = models.CharField(max_length=80, primary_key=True)
    window_start = models.BigIntegerField(db_index=True)  # seconds since the epoch
    count = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "login failures"

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.window_start}"


class SignInLink(models.Model):
    """A one-time link that signs a user in to the page, made by `cohort serve` for its banner. Only
    the SHA-256 digest of its key is stored; it works once, until `expires`, from a loopback address
    (`cohort.core.authentication.redeem_sign_in_link`)."""

    digest = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(get_user_model(), on_delete=models.CASCADE, related_name="+")
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"sign-in link of {self.user} ({self.digest[:8]}…)"


class Claim(models.Model):
    """Something one process may hold at a time, until `until` unless renewed: the beat's leadership,
    one slot of a cloud's steps. Written only by `cohort.core.claims`, with conditional UPDATEs."""

    name = models.CharField(max_length=100, primary_key=True)
    holder = models.CharField(max_length=64, blank=True, default="")
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.holder or 'free'}"


class PeriodicRun(models.Model):
    """The last period (a count of the job's intervals since the epoch) for which a periodic job was
    sent, so that no period is sent twice (`cohort.core.claims.claim_period`)."""

    job = models.CharField(max_length=100, primary_key=True)
    period = models.BigIntegerField()
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.job}: period {self.period}"
