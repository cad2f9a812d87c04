"""Nova's name rule as `cohort.cloud.names` states it: held against Nova's own check, code point by code point.

The driver contract tests try a few dozen names on a real Nova; this test asks the installed Nova's
request validator about every code point below U+10000 (and a sample above), alone, inside a name and
before a trailing newline, in a separate interpreter (importing Nova patches modules process-wide),
and requires the same verdict from `refused_character` for each. It is skipped when Nova is not
installed, like the lab.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import cohort_lab
from cohort.cloud.names import BEYOND_THE_BMP, SPACE_AT_AN_END, RefusedCharacter, refused_character

pytestmark = pytest.mark.database_free

ASK_NOVA = """
import sys
from nova import exception
from nova.api.validation import validators

def accepted(name):
    try:
        return validators._validate_name(name)
    except exception.InvalidName:
        return False

names = sys.stdin.buffer.read().decode("utf-8", "surrogatepass").split("\\0")
sys.stdout.write("".join("1" if accepted(name) else "0" for name in names))
"""


def _candidates() -> list[str]:
    code_points = [*range(0x10000), *range(0x10000, 0x110000, 0x101)]
    names = ["", "\n", "\n\n", "db\n", "db\n\n", "db \n", "\ndb", "db\r\n"]
    for code_point in code_points:
        if code_point == 0:
            continue  # the separator below; NUL is covered by the contract tests
        character = chr(code_point)
        names += [character, f"a{character}b", f"a{character}\n", f"{character}b", f"a{character}"]
    return names


@pytest.mark.skipif(not cohort_lab.nova_installed(), reason="needs Nova: pip install -e '.[lab]'")
def test_the_rule_agrees_with_novas_own_check_on_every_character() -> None:
    names = _candidates()
    answer = subprocess.run(
        [sys.executable, "-c", ASK_NOVA],
        input="\0".join(names).encode("utf-8", "surrogatepass"),
        capture_output=True,
        check=True,
        timeout=120,
    )
    verdicts = answer.stdout.decode()
    assert len(verdicts) == len(names)

    novas = [verdict == "1" for verdict in verdicts]
    ours = [refused_character(name) is None for name in names]
    disagreements = [(name, nova) for name, nova, our in zip(names, novas, ours, strict=True) if nova != our]
    assert disagreements == []


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("web", None),
        ("db\tweb", RefusedCharacter(2, "\t", "a control character, which OpenStack refuses in a name")),
        ("web-\U0001f680", RefusedCharacter(4, "\U0001f680", BEYOND_THE_BMP)),
        ("db\u3000", RefusedCharacter(2, "\u3000", SPACE_AT_AN_END)),
        ("\u00a0d\tb", RefusedCharacter(0, "\u00a0", SPACE_AT_AN_END)),
        ("", None),
        ("d" * 300, None),  # lengths are not judged here
    ],
)  # fmt: skip
def test_the_first_refused_character_is_reported(name: str, refused: RefusedCharacter | None) -> None:
    assert refused_character(name) == refused


@pytest.mark.parametrize(
    ("name", "explanation"),
    [
        ("db\tweb", "Character 3 of the name is U+0009, a control character, which OpenStack refuses in a name."),
        (
            "web-\U0001f680",
            "Character 5 of the name is U+1F680 (ROCKET), a character beyond U+FFFF, which OpenStack refuses "
            "(most emoji are).",
        ),
        (
            "db\u200b",
            "Character 3 of the name is U+200B (ZERO WIDTH SPACE), an invisible formatting character, which "
            "OpenStack refuses in a name.",
        ),
    ],
)
def test_the_explanation_names_the_character_by_code_point(name: str, explanation: str) -> None:
    refused = refused_character(name)

    assert refused is not None and refused.explain() == explanation
