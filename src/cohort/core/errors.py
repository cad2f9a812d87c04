"""Domain errors. Services raise these; `cohort.core.exceptions` turns them into HTTP at the edge."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""


class Conflict(DomainError):
    """The operation cannot run on the object as it is now (409)."""


class Gone(Conflict):
    """The object was deleted while the operation ran (404). A `Conflict`, so that code which expects
    a lost race keeps treating it as one."""


class Invalid(DomainError):
    """Bad input that only a service can detect, tied to a field (400 `{"field": ["message"]}`)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message
