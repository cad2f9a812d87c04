"""An install a server can take: the wheel, the systemd units and Cohort behind a TLS proxy (deploy/).

The wheel is built from the tracked files only (copied out of the checkout, so nothing untracked can
slip in) with `python -m build`, and installed into a virtual environment of its own, where `cohort`
runs from a folder that holds no source tree. Its dependencies: on CI, `.ci/run` installs the wheel
into a clean environment from PyPI with the project's pins and names it in COHORT_TEST_INSTALLED_VENV;
elsewhere (the tests run offline) the new environment gets the wheel alone and reads its dependencies
from the development environment's site-packages through a path file, which adds that folder to
`sys.path` but does not run its own path files, so the editable checkout there stays out of reach.

deploy/nginx.conf is run as written but for what a test cannot have (its certificate, port 443,
the name cohort.example.com), each replaced exactly once.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import sysconfig
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.services import Process, free_port, get, require, wait_until
from tests.workers import database_url

PASSWORD = uuid.uuid4().hex
REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The `bin` folder of an environment where Cohort is installed from its wheel."""
    prepared = os.environ.get("COHORT_TEST_INSTALLED_VENV")
    if prepared:
        return Path(prepared) / "bin"
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(work / "dist"), str(source)]
    done = subprocess.run(build, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (work / "dist").glob("cohort-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet"]
    subprocess.run([*pip, str(wheel)], check=True)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    Path(site, "cohort-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COHORT_", "DJANGO_", "PYTHON"))}
    return {**env, "COHORT_HOME": str(home), "COHORT_SECRET_KEY": uuid.uuid4().hex * 2, **extra}


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """A database of its own for `cohort migrate` to start from nothing: on the suite's server."""
    url = database_url()
    if url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'cohort.sqlite3'}"
        return
    import psycopg

    name = f"cohort_install_{uuid.uuid4().hex[:8]}"
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def server(installed, database, tmp_path_factory):
    """`cohort migrate` then `cohort web` from the installed wheel, in a folder with no source tree."""
    home = tmp_path_factory.mktemp("home")
    env = clean_env(home, COHORT_DATABASE_URL=database, COHORT_BROKER_URL="memory://")
    cohort = str(installed / "cohort")

    def run(*args: str) -> str:
        done = subprocess.run([cohort, *args], cwd=home, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("migrate", "--no-input")
    run("user", "admin", "--staff", "--password", PASSWORD)
    run("customer", "Acme")
    token = run("token", "admin").strip().splitlines()[-1]
    port = free_port()
    web = Process([cohort, "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"], home / "web.log", env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(base + "/health/live", timeout=2)[0] == 200, what="cohort web answering")
        yield base, token, run
    finally:
        web.stop()


def test_the_wheel_runs_without_a_source_tree(installed, server, tmp_path):
    base, token, run = server
    assert run("--version").strip() == "cohort 0.1.0"
    where = run("shell", "-c", "import cohort; print(cohort.__file__)").strip().splitlines()[-1]
    assert where.startswith(str(installed.parent)) and "site-packages" in where, where
    status, _, body = get(base + "/api/openstack-server-groups/", headers={"Authorization": f"Token {token}"})
    assert status == 200 and json.loads(body) == []
    status, _, page = get(base + "/ui/login/")
    assert status == 200
    stylesheet = page.decode().split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert get(base + stylesheet)[0] == 200  # the page's static files travelled in the wheel


def test_the_systemd_units_verify(installed, tmp_path):
    analyze = require("systemd-analyze", "systemd")
    units = sorted(DEPLOY.glob("*.service"))
    names = ["cohort-beat.service", "cohort-pulls.service", "cohort-web.service", "cohort-worker.service"]
    assert [u.name for u in units] == names
    # the two workers take a queue each, and between them every queue a task is sent to
    queues = [re.search(r"--queues (\S+)", (DEPLOY / name).read_text())[1] for name in names[1::2]]
    assert sorted(queues) == sorted({settings.CELERY_TASK_DEFAULT_QUEUE, settings.PULL_QUEUE}), queues
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed <= set(queues), routed
    for unit in units:
        text = unit.read_text()
        assert "ExecStart=/opt/cohort/bin/cohort " in text and "EnvironmentFile=/etc/cohort/cohort.env" in text
        # where this machine has the installed command and the environment file
        (tmp_path / "cohort.env").write_text((DEPLOY / "cohort.env").read_text())
        text = text.replace("/opt/cohort/bin/", f"{installed}/").replace("/etc/cohort/", f"{tmp_path}/")
        (tmp_path / unit.name).write_text(text)
        done = subprocess.run([analyze, "verify", str(tmp_path / unit.name)], capture_output=True, text=True)
        assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def nginx_config(folder: Path, port: int, upstream: str) -> Path:
    """deploy/nginx.conf with a test's certificate, port and upstream, inside a main configuration."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)  # fmt: skip
    site = (DEPLOY / "nginx.conf").read_text()
    for old, new in [
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("server_name cohort.example.com;", "server_name 127.0.0.1;"),
        ("/etc/ssl/cohort/fullchain.pem", str(folder / "cert.pem")),
        ("/etc/ssl/cohort/privkey.pem", str(folder / "key.pem")),
        ("http://127.0.0.1:8000", upstream),
    ]:
        assert site.count(old) == 1, old
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = " ".join(f"{kind}_temp_path {folder / kind};" for kind in kinds)
    main = folder / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off; worker_processes 1; pid {folder / 'nginx.pid'}; error_log {folder / 'error.log'};\n"
        + f"events {{}}\nhttp {{ access_log off; {temp} include {folder / 'site.conf'}; }}\n"
    )
    return main


def test_behind_a_tls_proxy_every_url_says_https_and_the_proxys_host(server, tmp_path):
    nginx = require("nginx", "nginx", ("/usr/sbin/nginx",))
    base, token, _ = server
    port = free_port()
    proxy = Process([nginx, "-c", str(nginx_config(tmp_path, port, base))], tmp_path / "nginx.log")
    public = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), cookies, NoRedirects())

    def fetch(path: str, data: dict | None = None, **headers: str):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(public + path, body, headers=headers)
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    try:
        wait_until(lambda: fetch("/health/live")[0] == 200, what="nginx answering")
        auth = {"Authorization": f"Token {token}"}
        status, headers, body = fetch("/api/customers/?page_size=1", **auth)
        assert status == 200
        assert f'"url":"{public}/api/customers/' in body.decode().replace(" ", ""), body
        assert all(link.strip().startswith(f"<{public}/api/customers/?") for link in headers["Link"].split(","))
        status, _, body = fetch("/api/", **auth)
        assert status == 200 and body.decode().count("http://") == 0 and f"{public}/api/" in body.decode()
        status, headers, _ = fetch("/ui/")  # not signed in: to the sign-in page, on this server
        assert status == 302
        location = urllib.parse.urljoin(public + "/ui/", headers["Location"])
        assert location.startswith(f"{public}/ui/login/"), headers["Location"]
        # the sign-in form's CSRF check passes behind the proxy (Django sees an https request to this host)
        _, _, page = fetch("/ui/login/")
        csrf = page.decode().split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        form = {"csrfmiddlewaretoken": csrf, "username": "admin", "password": PASSWORD}
        status, headers, _ = fetch("/ui/login/", form, Referer=f"{public}/ui/login/", Origin=public)
        assert status == 302 and not headers["Location"].startswith("http:"), headers["Location"]
        assert fetch(headers["Location"] if headers["Location"].startswith("/") else "/ui/")[0] == 200
    finally:
        proxy.stop()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
