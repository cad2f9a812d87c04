"""The manual builds with `mkdocs build --strict`, loads nothing from another host, and is served at /docs/.

The site is built once for this module into a temporary folder, as `./dev docs` builds it (strict: a
broken link, a missing anchor, a page left out of the nav or a missing deploy/ file fails the build).
Then the built files are read for references to other hosts.

What counts as a reference, decided here: any `src`, `href`, `srcset`, `action` or `poster` attribute
of an HTML page (an `<a href>` too: a reader clicking through to another host is not a load, but the
manual is read where no outside network may be, so it points nowhere it cannot reach), every CSS
`url(...)` and `@import`, and in pages, style sheets and the search index the hosts of web fonts and
CDNs. What does not count: the text of a page (its code blocks show
`https://keystone.example.com:5000/v3`, an example placeholder), XML namespace names
(`xmlns="http://www.w3.org/2000/svg"`, never fetched) and the URLs in the theme's JavaScript bundle,
each of which it fetches only on a condition this manual never meets, checked here instead: a
repository's facts from GitHub or GitLab (only with `repo_url`: no `md-source` link on a page),
mermaid from unpkg (only for a `mermaid` diagram: none on a page), a ResizeObserver polyfill from
unpkg (only in a browser without ResizeObserver, which every browser of the last five years has);
the rest are license comments. Placeholders on 127.0.0.1, localhost and example.com/.org (RFC 2606)
are allowed in attributes too. The pages' Content-Security-Policy (cohort.core.manual) holds a
browser to the same when `cohort serve` serves them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.prefix) / "bin" / "mkdocs"
ATTRIBUTE = re.compile(r"""\b(?:src|href|srcset|action|poster)\s*=\s*["']?\s*([^"'\s>]+)""", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)|@import\s+["']([^"']+)""", re.IGNORECASE)
SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, or //host
PLACEHOLDER = re.compile(r"^(?:https?:)?//(?:127\.0\.0\.1|localhost|\[::1\]|[\w.-]*example\.(?:com|org))(?:[:/]|$)")
FONT_AND_CDN_HOSTS = ("fonts.googleapis.com", "fonts.gstatic.com", "cdn.jsdelivr.net", "unpkg.com", "cdnjs")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if not MKDOCS.exists():
        if os.environ.get("CI"):
            pytest.fail("mkdocs is not installed, and CI must build the manual: ./dev test installs the 'docs' extra")
        pytest.skip("mkdocs is not installed: ./dev test installs the 'docs' extra")
    out = tmp_path_factory.mktemp("manual") / "site"
    result = subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", out],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1", "HOME": str(out.parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    return out


def other_hosts(site: Path) -> list[str]:
    found = []
    for path in site.rglob("*"):
        if path.suffix == ".html":
            references = ATTRIBUTE.findall(path.read_text())
        elif path.suffix == ".css":
            references = [a or b for a, b in CSS_URL.findall(path.read_text())]
        else:
            continue
        for reference in references:
            if SCHEME.match(reference) and not PLACEHOLDER.match(reference):
                found.append(f"{path.relative_to(site)}: {reference}")
    return found


def test_the_manual_builds_strict_and_references_no_other_host(site):
    pages = {path.relative_to(site).parent.as_posix() for path in site.rglob("index.html")}
    assert {".", "getting-started", "concepts", "api", "web", "production", "performance", "development"} <= pages
    assert other_hosts(site) == []
    for path in site.rglob("*"):
        if path.suffix in (".html", ".css", ".json", ".xml"):
            text = path.read_text(errors="replace")
            assert not [host for host in FONT_AND_CDN_HOSTS if host in text], path
        if path.suffix == ".html":  # what would make the theme's script fetch from another host
            assert 'class="mermaid"' not in text and "md-source" not in text, path


def test_the_check_finds_a_reference_to_another_host(site, tmp_path):
    """The grep above would see a script, a style sheet or a font from elsewhere (and lets placeholders be)."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    index = copy / "index.html"
    index.write_text(
        index.read_text()
        + '<script src="https://cdn.example.net/x.js"></script><a href="http://127.0.0.1:8000/ui/">ui</a>'
    )
    (copy / "extra.css").write_text("@font-face { src: url('//fonts.example.net/f.woff2') }")
    assert sorted(other_hosts(copy)) == [
        "extra.css: //fonts.example.net/f.woff2",
        "index.html: https://cdn.example.net/x.js",
    ]


def test_the_search_index_is_built_and_holds_every_page(site):
    index = json.loads((site / "search" / "search_index.json").read_text())
    locations = {document["location"].split("#")[0] for document in index["docs"]}
    assert {"", "getting-started/", "concepts/", "api/", "production/", "performance/"} <= locations
    assert any("placement_status" in document["text"] for document in index["docs"])
    assert list((site / "assets" / "javascripts" / "workers").glob("search.*.js")), "the search worker"


def test_the_production_page_shows_the_deploy_files_as_they_are(site):
    page = (site / "production" / "index.html").read_text()
    for path in (ROOT / "deploy").iterdir():
        for line in path.read_text().splitlines():
            words = re.findall(r"[\w/.-]{4,}", line)  # the highlighter splits lines into spans
            assert all(word in page for word in words), f"deploy/{path.name}: {line!r} not on the page"


@pytest.mark.django_db
def test_cohort_serves_the_built_manual_at_docs(site):
    client = Client()
    with override_settings(MANUAL_ROOT=site):
        home = client.get("/docs/")
        assert home.status_code == 200 and home["Content-Type"].startswith("text/html")
        assert b"<title>" in b"".join(home.streaming_content)
        assert "default-src 'self'" in home["Content-Security-Policy"]
        page = client.get("/docs/getting-started/")
        assert page.status_code == 200 and b"Does the placement hold?" in b"".join(page.streaming_content)
        assert client.get("/docs/search/search_index.json").status_code == 200
        assert client.get("/docs/no-such-page/").status_code == 404
        assert client.get("/docs/../settings.py").status_code in (400, 404)  # never leaves the folder
        assert client.post("/docs/").status_code == 405


@pytest.mark.django_db
def test_without_a_built_manual_docs_is_the_json_404_of_any_unknown_path(tmp_path):
    with override_settings(MANUAL_ROOT=tmp_path / "site"):
        response = Client().get("/docs/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
