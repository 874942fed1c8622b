"""One exception hierarchy: every failure is a :class:`CommyError` carrying the protocol's error code.

A failure reads the same whichever transport met it: a server ``Error`` reply, a dropped connection and a local
mapping all raise the subclass named after the protocol code.
"""

from __future__ import annotations


class CommyError(Exception):
    """Any failure of a Commy call. ``code`` is the protocol's error code (``"NOT_FOUND"``, ...)."""

    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, *, code: str | None = None, current_version: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        #: For ``CONFLICT``: the variable's version when the compare-and-set failed, if the server said.
        self.current_version = current_version

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class NotFoundError(CommyError):
    """The tenant, service, variable or key does not exist (``NOT_FOUND``). Reads never create anything."""

    code = "NOT_FOUND"


class PermissionDeniedError(CommyError):
    """The credential lacks the right for this request (``PERMISSION_DENIED``); also any write to a read-only
    mapping."""

    code = "PERMISSION_DENIED"


class UnauthorizedError(CommyError):
    """Not authenticated, or the credential was refused (``UNAUTHORIZED``)."""

    code = "UNAUTHORIZED"


class AlreadyExistsError(CommyError):
    """The tenant, service, variable or key exists already (``ALREADY_EXISTS``)."""

    code = "ALREADY_EXISTS"


class InvalidRequestError(CommyError, ValueError):
    """The request is malformed, a name breaks the rules, or a value does not fit its variable
    (``INVALID_REQUEST``)."""

    code = "INVALID_REQUEST"


class InternalError(CommyError):
    """The server failed, or answered in a way the protocol does not allow (``INTERNAL_ERROR``)."""

    code = "INTERNAL_ERROR"


class ConnectionLostError(CommyError, ConnectionError):
    """The connection dropped before the reply came, or could not be made (``CONNECTION_LOST``). A request that got
    this may or may not have been carried out."""

    code = "CONNECTION_LOST"


class CommyTimeoutError(CommyError, TimeoutError):
    """No reply came in time (``TIMEOUT``)."""

    code = "TIMEOUT"


class LimitExceededError(CommyError):
    """Over a size, count or quota limit (``LIMIT_EXCEEDED``); the message names the limit."""

    code = "LIMIT_EXCEEDED"


class ConflictError(CommyError):
    """A compare-and-set found another version (``CONFLICT``); ``current_version`` holds it when known."""

    code = "CONFLICT"


class SubscriptionEndedError(CommyError):
    """The server ended a watch's subscription: its grant died (revoked, expired) or its service or variable was
    deleted. The watch yields nothing after this."""

    code = "SUBSCRIPTION_ENDED"


class UnsupportedError(CommyError):
    """The server or this installation does not offer the feature asked for (for example compare-and-set on a
    server that ignores ``expected_version``, or ``transport="local"`` without the ``commy-local`` extension)."""

    code = "UNSUPPORTED"


_BY_CODE: dict[str, type[CommyError]] = {
    cls.code: cls
    for cls in (
        NotFoundError,
        PermissionDeniedError,
        UnauthorizedError,
        AlreadyExistsError,
        InvalidRequestError,
        InternalError,
        ConnectionLostError,
        CommyTimeoutError,
        LimitExceededError,
        ConflictError,
    )
}


def error_from_code(code: str, message: str, current_version: int | None = None) -> CommyError:
    """The exception for a protocol code; a code this client does not know becomes a plain :class:`CommyError`
    that keeps it."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return CommyError(message, code=code, current_version=current_version)
    return cls(message, current_version=current_version)
