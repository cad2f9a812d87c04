"""Which server-group names Nova accepts: one rule, shared by the in-memory Nova and Cohort's API.

Nova 34 checks a name's characters first, then its length (1 to 255 characters, counted as code
points). A character passes when its code point is at most U+FFFF and its Unicode category is
neither "other" (control, format, surrogate, private use, unassigned) nor a line or paragraph
separator; so letters, marks, digits, punctuation, symbols and spaces pass, while emoji and every
other character beyond U+FFFF fail, even though they are printable. A space (category Zs) may not be
the first or the last character. One quirk is kept on purpose, because the real Nova has it: a
single line feed at the very end of an otherwise good name is let through ("db\\n" is accepted,
"db\\n\\n" and "\\n" are not). Cohort's API never sends one (it trims names). The categories come from
this interpreter's Unicode database, as Nova's come from its own; a Nova on another Python may
differ only on characters new to a later Unicode version.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

NAME_MAX_LENGTH = 255
LAST_ACCEPTED_CODE_POINT = 0xFFFF

REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Cs": "a surrogate code point",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
BEYOND_THE_BMP = "a character beyond U+FFFF, which OpenStack refuses (most emoji are)"
SPACE_AT_AN_END = "a space, which OpenStack refuses at the start or end of a name"


@dataclass(frozen=True)
class RefusedCharacter:
    """The first character of a name that Nova refuses: its index in the name, and why."""

    index: int
    character: str
    reason: str

    def explain(self) -> str:
        """A sentence for a user, naming the character by code point (it may be invisible)."""
        code = f"U+{ord(self.character):04X}"
        label = unicodedata.name(self.character, "")
        shown = f"{code} ({label})" if label else code
        return f"Character {self.index + 1} of the name is {shown}, {self.reason}."


def refused_character(name: str) -> RefusedCharacter | None:
    """The first character for which Nova would refuse `name`, or None if all characters pass.

    Only characters are judged here: an empty or an over-long name passes, so that a caller can check
    the length after the characters, in Nova's order.
    """
    checked = name[:-1] if len(name) > 1 and name.endswith("\n") else name  # Nova's trailing-newline quirk
    last = len(checked) - 1
    for index, character in enumerate(checked):
        reason = _reason_to_refuse(character, at_an_end=index in (0, last))
        if reason:
            return RefusedCharacter(index, character, reason)
    return None


def _reason_to_refuse(character: str, *, at_an_end: bool) -> str:
    if ord(character) > LAST_ACCEPTED_CODE_POINT:
        return BEYOND_THE_BMP
    category = unicodedata.category(character)
    if category in REFUSED_CATEGORIES:
        return f"{REFUSED_CATEGORIES[category]}, which OpenStack refuses in a name"
    if category == "Zs" and at_an_end:
        return SPACE_AT_AN_END
    return ""
