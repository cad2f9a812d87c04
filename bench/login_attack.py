"""Benchmark: the list's latency while wrong passwords pour in, and the right one from elsewhere.

    .venv/bin/python bench/login_attack.py [--seconds 65] [--attack-rate 50] [--addresses 5]
                                           [--database-url postgres://...] [--rates default|unbounded]

Starts `cohort web` (gunicorn, two workers, the real password hasher) on a free port of 127.0.0.1 with
a fresh COHORT_HOME (SQLite there, unless `--database-url`), behind one trusted proxy
(`COHORT_NUM_PROXIES=1`), so each attacker claims its own address in `X-Forwarded-For`. One client
reads the first page of server groups ten times a second, first with nothing else going on, then for
`--seconds` while `--addresses` attackers send `--attack-rate` wrong passwords a second between them
for the admin user. (65 seconds: the throttle's windows are minutes, so the run crosses into a new
one, where every count starts over.) Then the admin's right password is tried from an address that
took no part. It prints the list's p50 and p95 in each phase, their ratio, the attackers' answers
(401: a password was hashed; 429: refused before hashing) and the last login's status.

`--rates unbounded` turns the login throttle off (COHORT_LOGIN_RATE_*=off): what the attack costs
when every wrong password is hashed. The exit status is 1 if the list's p50 under attack is over
twice the idle one, or the right password did not work.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

PASSWORD = "the admin's right password"
LIST_RATE = 10.0  # list requests a second


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cohort(*args: str, env: dict, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cohort.cli", *args], env=env, input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def paced(rate: float, stop: threading.Event, action) -> None:
    """Call `action` `rate` times a second until `stop` is set (late calls are not made up)."""
    interval, next_at = 1.0 / rate, time.monotonic()
    while not stop.is_set():
        action()
        next_at = max(next_at + interval, time.monotonic())
        stop.wait(max(0.0, next_at - time.monotonic()))


def measure_list(base: str, token: str, seconds: float, stop: threading.Event | None = None) -> list[float]:
    times: list[float] = []
    done = stop or threading.Event()
    timer = threading.Timer(seconds, done.set)
    timer.start()
    with httpx.Client(headers={"Authorization": f"Token {token}"}, timeout=30) as client:

        def one() -> None:
            started = time.perf_counter()
            response = client.get(f"{base}/api/openstack-server-groups/")
            assert response.status_code == 200, response.text
            times.append((time.perf_counter() - started) * 1000)

        paced(LIST_RATE, done, one)
    timer.cancel()
    return times


def attack(base: str, address: str, rate: float, stop: threading.Event, answers: Counter) -> None:
    with httpx.Client(headers={"X-Forwarded-For": address}, timeout=60) as client:

        def one() -> None:
            body = {"username": "admin", "password": "wrong"}
            answers[client.post(f"{base}/api-auth/password/", json=body).status_code] += 1

        paced(rate, stop, one)


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=65.0)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--attack-rate", type=float, default=50.0, help="wrong passwords a second, in all")
    parser.add_argument("--addresses", type=int, default=5)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rates", choices=["default", "unbounded"], default="default")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="cohort-login-attack-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("COHORT_")}
    env.update(
        COHORT_HOME=str(home), DJANGO_SETTINGS_MODULE="cohort.settings", COHORT_NUM_PROXIES="1",
        COHORT_CLOUD_DRIVER="cohort.cloud.memory.MemoryDriver", COHORT_BROKER_URL="filesystem://",
        COHORT_LOG_LEVEL="WARNING",
    )  # fmt: skip
    if args.database_url:
        env["COHORT_DATABASE_URL"] = args.database_url
    if args.rates == "unbounded":
        env.update({f"COHORT_LOGIN_RATE_{name}": "off" for name in ("ADDRESS", "USER_ADDRESS", "GLOBAL")})
    cohort("migrate", "-v", "0", env=env)
    cohort("user", "admin", "--staff", "--password", "-", env=env, stdin=PASSWORD + "\n")
    token = cohort("token", "admin", env=env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = subprocess.Popen(
        [sys.executable, "-m", "cohort.cli", "web", "--bind", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("cohort web did not answer within 60 s")
            time.sleep(0.2)
        measure_list(base, token, 3)  # warm up both workers
        idle = measure_list(base, token, args.idle_seconds)

        stop, answers = threading.Event(), Counter()
        each = args.attack_rate / args.addresses
        attackers = [
            threading.Thread(target=attack, args=(base, f"10.66.0.{i + 1}", each, stop, answers))
            for i in range(args.addresses)
        ]
        for thread in attackers:
            thread.start()
        under_attack = measure_list(base, token, args.seconds)
        stop.set()
        for thread in attackers:
            thread.join()
        right = httpx.post(
            f"{base}/api-auth/password/", json={"username": "admin", "password": PASSWORD},
            headers={"X-Forwarded-For": "10.77.0.1"}, timeout=60,
        )  # fmt: skip
    finally:
        os.killpg(web.pid, 15)
        web.wait(30)

    idle_p50, idle_p95 = summary(idle)
    attack_p50, attack_p95 = summary(under_attack)
    ratio = attack_p50 / idle_p50
    database = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    print(f"{database}, rates {args.rates}; {args.attack_rate:g} wrong passwords/s from {args.addresses} addresses")
    print(f"list idle:         p50 {idle_p50:7.1f} ms  p95 {idle_p95:7.1f} ms  ({len(idle)} requests)")
    print(f"list under attack: p50 {attack_p50:7.1f} ms  p95 {attack_p95:7.1f} ms  ({len(under_attack)} requests)")
    print(f"p50 ratio: {ratio:.2f}x")
    print(f"attackers' answers: {dict(sorted(answers.items()))} (401: a password hashed; 429: refused before)")
    print(f"right password from an address that took no part: {right.status_code}")
    return 0 if ratio <= 2.0 and right.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
