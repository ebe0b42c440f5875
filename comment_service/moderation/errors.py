"""The domain's failures, with no HTTP in them: services raise these, errors.py maps them to answers.

Each carries a stable `code` (clients translate it), an English `message` and, for `Invalid`,
per-field errors. Which HTTP status each kind becomes is decided in one place
(comment_service/errors.py, DOMAIN_STATUS), not by the code that raises it.
"""
from __future__ import annotations


class FieldError(str):
    """A field message that carries its stable code (marshmallow treats it as a plain string)."""

    code: str

    def __new__(cls, code: str, message: str) -> FieldError:
        obj = super().__new__(cls, message)
        obj.code = code
        return obj


class DomainError(Exception):
    """A use case refused: something a client can fix or must be told, never a bug."""

    def __init__(self, code: str, message: str, fields: dict[str, list[FieldError]] | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.fields, self.retry_after = code, message, fields, retry_after


class Invalid(DomainError):
    """The input breaks a rule of the domain (a field, or the request as a whole)."""


class NotFound(DomainError):
    """No such object, or none this caller may know about (another site's is answered the same)."""


class Forbidden(DomainError):
    """The object exists, and this caller may not do this to it (a closed thread, a banned author)."""


class Conflict(DomainError):
    """The object's state does not allow it now (a stale revision, a transition that does not apply)."""
