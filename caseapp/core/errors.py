"""Domain errors raised by operations and turned into HTTP answers by the views."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """Base class: a request that cannot be carried out as asked."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str = "", fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationFailed(DomainError):
    """Input failed validation; ``fields`` maps each field to its messages. Nothing was changed."""

    status_code = 422
    code = "validation_failed"

    def __init__(self, fields: dict[str, list[str]], message: str | None = None) -> None:
        super().__init__(message or str(_l("Periksa isian yang ditandai.")), fields)


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class StaleVersion(Conflict):
    """Someone changed the record since it was shown: reload and try again."""

    code = "stale_version"


class NotAllowed(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
