"""Which declared constraint a row breaks, to turn a database refusal into the constraint's message.

The database enforces every invariant (a race between two requests is decided there); when it
refuses a write, the `IntegrityError`'s text differs by database and names no constraint on SQLite.
So the row is checked against the model's declared constraints instead, by name, and the caller
answers with that constraint's own `violation_error_message`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


def broken_constraint(instance: models.Model) -> models.BaseConstraint | None:
    """The first of the model's declared constraints that `instance` (as it stands) breaks."""
    for constraint in instance._meta.constraints:
        try:
            constraint.validate(type(instance), instance)
        except ValidationError:
            return constraint
    return None
