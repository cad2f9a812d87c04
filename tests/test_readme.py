"""Every example of the README and of the manual runs as written, in the order a reader meets it.

The fenced `bash` and `python` blocks are read in order: the README's first, then the manual's pages
(docs/) in the order of mkdocs.yml's nav, since the manual's walk goes on from the README's first
session (`$GROUP`, `$TENANT`, ...). A `text` block shows output and is never run, nor are the `ini`
and `nginx` blocks that show the deploy/ files. A block right after a comment
`<!-- not run by tests/test_readme.py: why -->` is left out, with its reason on the page for every
reader to see; every other block runs, against one `cohort serve` on the lab (the first session
boots servers into a group) with a fresh COHORT_HOME, from a folder whose `.venv` is this test's
virtual environment. What a reader types from the banner is filled in as a reader would: `TOKEN=...`
and `TENANT=...` get the printed admin token and demo tenant, and `127.0.0.1:8000` becomes the port of
this serve. The blocks run one after another in one bash, as in a reader's terminal (variables carry
over), with errexit and pipefail; `curl` and `http` fail on an HTTP error status, so an example that
gets a 4xx or 5xx fails the test. A python block runs in a fresh interpreter with TOKEN and TENANT set.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from bench.mixed_load import Serve

import cohort_lab
from tests.workers import FAST_INTENT

pytestmark = pytest.mark.database_free

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIP = re.compile(r"<!-- not run by tests/test_readme\.py: (?P<why>.+?) -->")
SHOWN_OR_RUN = {"bash", "python", "text", "ini", "nginx"}  # ini and nginx: the deploy/ files, shown
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\s*$")


@dataclass
class Block:
    line: int
    lang: str
    code: str
    skipped: str | None  # why it is not run, if it is not
    source: str = "README.md"


def documents() -> list[Path]:
    """The README, then the manual's pages in the order of its nav (the order a reader meets them)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs_dir = ROOT / config.get("docs_dir", "docs")
    pages = [next(iter(entry.values())) if isinstance(entry, dict) else entry for entry in config["nav"]]
    return [README, *(docs_dir / page for page in pages)]


def all_blocks() -> list[Block]:
    blocks = []
    for path in documents():
        source = str(path.relative_to(ROOT))
        blocks += [replace(block, source=source) for block in readme_blocks(path.read_text())]
    return blocks


def readme_blocks(text: str) -> list[Block]:
    blocks, lines, index = [], text.splitlines(), 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening or not opening["lang"]:
            index += 1
            continue
        indent = len(opening["indent"])
        previous = lines[index - 1] if index else ""
        skipped = SKIP.search(previous)
        end = next(n for n in range(index + 1, len(lines)) if lines[n].strip() == "```")
        code = "\n".join(line[indent:] for line in lines[index + 1 : end])
        blocks.append(Block(index + 1, opening["lang"], code, skipped["why"] if skipped else None))
        index = end + 1
    return blocks


def test_every_block_is_run_or_says_why_not():
    blocks = all_blocks()
    others = {(block.source, block.line, block.lang) for block in blocks if block.lang not in SHOWN_OR_RUN}
    assert not others, f"blocks of another language: {others}"
    run = runnable(blocks)
    assert len(run) >= 6 and any(block.lang == "python" for block in run)
    assert {block.source for block in run} >= {"README.md", "docs/getting-started.md", "docs/api.md"}


def test_the_deploy_files_are_shown_from_the_files_themselves():
    """The production page includes each deploy/ file when the manual is built, rather than a copy."""
    shown = [block for block in all_blocks() if block.lang in ("ini", "nginx")]
    assert sorted(block.code.strip() for block in shown) == sorted(
        f'--8<-- "deploy/{path.name}"' for path in (ROOT / "deploy").iterdir()
    )


def test_the_manuals_first_session_is_the_readmes():
    """Getting started shows the README's first session (not run again: it runs in the README)."""
    readme, manual = (
        [block for block in all_blocks() if block.source == source and "GROUP=$(" in block.code]
        for source in ("README.md", "docs/getting-started.md")
    )
    assert len(readme) == 1 and not readme[0].skipped
    assert len(manual) == 1 and manual[0].skipped and manual[0].code == readme[0].code


def test_every_curl_that_prints_a_body_ends_it_with_a_newline():
    """A JSON body has no newline of its own: without one, the next output runs on at its end."""
    for block in all_blocks():
        if block.lang != "bash":
            continue
        commands = re.split(r"(?<!\\)\n", block.code)  # a command continues after a trailing backslash
        for command in commands:
            command = command.strip()
            if not command.startswith("curl -s ") or command.startswith(("curl -sI", "curl -s -I")):
                continue
            if any(part in command for part in ("| ", "-o ", "$(")):
                continue  # its output goes elsewhere
            assert "-w '\\n'" in command or "; echo" in command, f"{block.source} line {block.line}: {command}"


def runnable(blocks: list[Block]) -> list[Block]:
    return [block for block in blocks if block.lang in ("bash", "python") and not block.skipped]


def reader_script(blocks: list[Block], *, token: str, tenant: str, port: int) -> str:
    """One bash script: each block as a reader would paste it, with the banner's values filled in."""
    parts = [
        "set -eo pipefail",
        'curl() { command curl --fail-with-body "$@"; }',  # a 4xx or 5xx fails the example
        'http() { command http --check-status --ignore-stdin "$@"; }',
    ]
    for number, block in enumerate(blocks, 1):
        code = block.code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        code = re.sub(r"\bTOKEN=\.\.\.", f"TOKEN={token}", code)
        code = re.sub(r"\bTENANT=\.\.\.", f"TENANT={tenant}", code)
        parts.append(f"echo '@@ block {number}, {block.source} line {block.line}' >&2")
        if block.lang == "python":
            prelude = f"TOKEN = {token!r}\nTENANT = {tenant!r}\n"
            parts.append(f"python - <<'PYTHON'\n{prelude}{code}\nPYTHON")
        else:
            parts.append(code)
    parts.append("echo '@@ all done' >&2")
    return "\n".join(parts) + "\n"


@pytest.mark.slow
def test_the_readme_examples_run_as_written(tmp_path):
    if not cohort_lab.nova_installed():
        pytest.skip("the README's first session boots servers on the lab: pip install -e '.[lab]'")
    blocks = runnable(all_blocks())
    home = tmp_path / "home"
    home.mkdir()
    serve = Serve.start(home, lab=True, env=FAST_INTENT)
    try:
        reader = tmp_path / "reader"  # the reader's checkout: where `.venv/bin/cohort` is
        reader.mkdir()
        (reader / ".venv").symlink_to(sys.prefix)
        httpie = tmp_path / "httpie"
        httpie.mkdir()
        (httpie / "config.json").write_text(json.dumps({"disable_update_warnings": True}))
        env = {key: value for key, value in os.environ.items() if not key.startswith("COHORT_")}
        env.update(
            COHORT_HOME=str(home),
            DJANGO_SETTINGS_MODULE="cohort.settings",
            HTTPIE_CONFIG_DIR=str(httpie),
            PATH=f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
        )
        script = reader_script(blocks, token=serve.token, tenant=serve.tenant, port=serve.port)
        result = subprocess.run(
            ["bash", "-c", script], cwd=reader, env=env, capture_output=True, text=True, timeout=600
        )
        reached = re.findall(r"@@ (.+)", result.stderr)
        assert result.returncode == 0 and reached[-1:] == ["all done"], (
            f"the example stopped in {reached[-1] if reached else 'the first block'}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}\n"
            f"--- script\n{shlex.quote(script)[:2000]}"
        )
        out = result.stdout
        booted = re.findall(r"^\S+ (ACTIVE|ERROR) host_id=", out, re.MULTILINE)  # what lab-boot printed
        # three placed, the fourth refused by the scheduler, the fifth forced onto an occupied host; then
        # two into the group of the Quotas section, whose third Nova refuses (no server, no line)
        assert booted == ["ACTIVE", "ACTIVE", "ACTIVE", "ERROR", "ACTIVE", "ACTIVE", "ACTIVE"]
        assert "Quota exceeded, too many servers in group" in result.stderr
        assert "quota server_group_count is used up" in out and out.count(" 409\n") == 1
        assert "fault: No valid host was found" in out
        assert '"placement_status":"satisfied"' in out and '"placement_status":"violated"' in out
        assert '"backend_id"' in out and "CREATION_SCHEDULED" in out and "\n204\n" in out
        # the heal: the dry run's plan of one move, then the move, and the group satisfied again
        assert '"reason":"shares host1 with' in out and "Heal has been scheduled." in out
        assert '"moves_done":1,"stopped_because":null' in out and '"to":"host4","kind":"live"' in out
    finally:
        serve.stop()
