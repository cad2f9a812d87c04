"""Throttling of password logins, per username and per client address, shared by every process.

`POST /api-auth/password/` hashes the password it is given, which is slow on purpose: a burst of
wrong passwords slows every other request of the web process. So failed logins are counted per
username (`COHORT_LOGIN_RATE_USER`, default 10 a minute) and per client address
(`COHORT_LOGIN_RATE_ADDRESS`, default 30 a minute), and once either count is reached a login is
refused with 429 and `Retry-After`, before any password is hashed. The admin's login page checks
the same passwords, so it shares the counts. Only failures count: each attempt is counted before
its password is checked (so concurrent attempts cannot slip past the limit together) and given back
when it succeeds. Windows are fixed (a minute starts at a multiple of 60 seconds). Failures on a
username lock that username out, from every address, until the window ends (the price of counting
per username); they never hold up another username, except through a shared address.

The counts live in a table of the application's database (`LoginFailures`), not in Django's cache.
The default cache is per process, and the cache backends that cross processes without a server
(database, file) implement `incr` as a read followed by a write, so workers racing on one key lose
counts, which is precisely the burst a throttle exists for. The database is already shared by every
`cohort web` process (SQLite under COHORT_HOME in the embedded default, PostgreSQL in production),
and a single `UPDATE ... SET count = count + 1` is atomic on both, with nothing more to run.

A username is counted by its SHA-256 (case-folded), so a password typed into the username field is
never stored. The client address is REMOTE_ADDR, or behind `COHORT_NUM_PROXIES` trusted reverse
proxies the address they saw (from `X-Forwarded-For`); an IPv6 client counts as its /64 network,
which is what one host usually gets.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
import unicodedata

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from rest_framework.exceptions import Throttled

from cohort.core.models import LoginFailures

# Rows untouched for this long belong to windows long over; they are deleted as new ones come.
RETENTION_SECONDS = 2 * 86400


def username_key(username: str) -> str:
    folded = unicodedata.normalize("NFKC", username).casefold()
    return "user:" + hashlib.sha256(folded.encode()).hexdigest()


def address_key(request) -> str:
    return "address:" + client_address(request)


def client_address(request) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        address = hops[-min(proxies, len(hops))]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


class LoginThrottle:
    """The counts of one login attempt: `check()` before the password is checked (raises
    `Throttled`), then `succeeded()` if it was right."""

    def __init__(self, request, username: str):
        self.now = time.time()
        rates = {username_key(username): settings.LOGIN_RATE_USER, address_key(request): settings.LOGIN_RATE_ADDRESS}
        # key -> (failures allowed, window length in seconds, start of the current window)
        self.windows = {
            key: (rate[0], rate[1], int(self.now // rate[1]) * rate[1])
            for key, rate in rates.items()
            if rate is not None  # no limit
        }

    def check(self) -> None:
        """Refuse if a count is used up; else count this attempt, and refuse if others came first."""
        self.refuse_if_over(0)
        for key, (_, _, start) in self.windows.items():
            count_one(key, start)
        try:
            self.refuse_if_over(1)
        except Throttled:
            self.give_back()  # refused before its password was checked: not a failure
            raise

    def succeeded(self) -> None:
        self.give_back()

    def give_back(self) -> None:
        for key, (_, _, start) in self.windows.items():
            LoginFailures.objects.filter(key=key, window_start=start, count__gt=0).update(count=F("count") - 1)

    def refuse_if_over(self, reserved: int) -> None:
        """Raise `Throttled` if a count, less the `reserved` attempt of this request, is used up."""
        waits = []
        rows = LoginFailures.objects.filter(key__in=list(self.windows)).values_list("key", "window_start", "count")
        for key, window_start, count in rows:
            allowed, period, start = self.windows[key]
            if window_start == start and count - reserved >= allowed:
                waits.append(start + period - self.now)
        if waits:
            raise Throttled(wait=max(1, math.ceil(max(waits))))


def count_one(key: str, start: int) -> None:
    """Add one to `key`'s count in the window starting at `start` (a new window starts at one)."""
    rows = LoginFailures.objects.filter(key=key)
    bump = {"count": Case(When(window_start=start, then=F("count") + 1), default=Value(1)), "window_start": start}
    if rows.update(**bump):
        return
    try:
        with transaction.atomic():
            LoginFailures.objects.create(key=key, window_start=start, count=1)
    except IntegrityError:  # created meanwhile by a concurrent attempt
        rows.update(**bump)
        return
    LoginFailures.objects.filter(window_start__lt=start - RETENTION_SECONDS).delete()
