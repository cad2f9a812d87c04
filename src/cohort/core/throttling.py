"""Throttling of password logins, per client address and username, and for everyone together.

`POST /api-auth/password/` hashes the password it is given, which is slow on purpose (a quarter of a
second of a core here): a stream of wrong passwords would keep the web processes hashing and slow
every other request. So failed logins are counted, and once a count is used up a login is refused with
429 and `Retry-After`, before any password is hashed:
- per client address (`COHORT_LOGIN_RATE_ADDRESS`, default 20 a minute), whatever the usernames;
- per username from one address (`COHORT_LOGIN_RATE_USER_ADDRESS`, default 5 a minute);
- for everyone (`COHORT_LOGIN_RATE_GLOBAL`, default 30 a minute): this bounds the hashing that many
  addresses together can cause. Once it is used up, an address that has already failed in this window
  is refused; an address with no failure yet may still try, so a person who has not mistyped signs in
  even while others are refused. (An attacker with many addresses gets one attempt per address per
  window beyond the bound: the price of not locking everyone out.)
Nobody can lock a user out from another address: there is no count per username alone.

The admin's login page checks the same passwords, so it shares the counts. Only failures count: each
attempt is counted before its password is checked (so concurrent attempts cannot slip past the
limit together) and given back when it succeeds. Windows are fixed (a minute starts at a multiple of
60 seconds).

The counts live in a table of the application's database (`LoginFailures`), not in Django's cache.
The default cache is per process, and the cache backends that cross processes without a server
(database, file) implement `incr` as a read followed by a write, so workers racing on one key lose
counts, which is precisely the burst a throttle exists for. The database is already shared by every
`cohort web` process (SQLite under COHORT_HOME in the embedded default, PostgreSQL in production),
and a single `UPDATE ... SET count = count + 1` is atomic on both, with nothing more to run.

A username is counted by a SHA-256 digest (case-folded, with the address), so a password typed into
the username field is never stored. The client address is REMOTE_ADDR, or behind
`COHORT_NUM_PROXIES` trusted reverse proxies the address they saw (from `X-Forwarded-For`); an IPv6
client counts as its /64 network, which is what one host usually gets.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import sys
import time
import unicodedata

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from rest_framework.exceptions import Throttled

from cohort.core.models import LoginFailures

# Rows untouched for this long belong to windows long over; they are deleted as new ones come.
RETENTION_SECONDS = 2 * 86400


GLOBAL_KEY = "global"


def user_address_key(username: str, address: str) -> str:
    folded = unicodedata.normalize("NFKC", username).casefold()
    return "user-address:" + hashlib.sha256(f"{folded}\n{address}".encode()).hexdigest()


def address_key(address: str) -> str:
    return "address:" + address


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
        address = client_address(request)
        self.address_key = address_key(address)
        rates = {
            self.address_key: settings.LOGIN_RATE_ADDRESS,
            user_address_key(username, address): settings.LOGIN_RATE_USER_ADDRESS,
            GLOBAL_KEY: settings.LOGIN_RATE_GLOBAL,
        }
        if rates[self.address_key] is None and rates[GLOBAL_KEY] is not None:
            # no limit per address, but the global one asks whether the address failed before
            rates[self.address_key] = (sys.maxsize, rates[GLOBAL_KEY][1])
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
        """Raise `Throttled` if a count, less the `reserved` attempt of this request, is used up. The
        global count refuses only an address that has failed before in its own window."""
        counts = {
            key: count
            for key, window_start, count in LoginFailures.objects.filter(key__in=list(self.windows)).values_list(
                "key", "window_start", "count"
            )
            if window_start == self.windows[key][2]
        }
        address_failed_before = counts.get(self.address_key, 0) - reserved > 0
        waits = []
        for key, count in counts.items():
            allowed, period, start = self.windows[key]
            if count - reserved >= allowed and (key != GLOBAL_KEY or address_failed_before):
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
