"""Commy for Python: shared variables hosted by a Commy server, read, written and watched from asyncio.

>>> import asyncio, commy
>>> async def main() -> None:                                            # doctest: +SKIP
...     async with commy.connect("ws://127.0.0.1:8080", tenant="acme", api_key="commy_...") as client:
...         weather = await client.create_service("weather")
...         await weather.allocate("temperature", type="f64", initial=20.0)
...         await weather.write("temperature", 21.5)
...         async for change in weather.watch("temperature"):
...             print(change.value, change.version)

A blocking client with the same calls is in :mod:`commy.sync`. Every failure is a :class:`CommyError` whose
``code`` is the protocol's error code.
"""

from ._client import CLIENT_VERSION, ApiKey, Authenticated, Client, Token, Transport, connect
from ._codec import Encoding
from ._errors import (
    AlreadyExistsError,
    CommyError,
    CommyTimeoutError,
    ConflictError,
    ConnectionLostError,
    InternalError,
    InvalidRequestError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
    SubscriptionEndedError,
    UnauthorizedError,
    UnsupportedError,
)
from ._servers import Reconnect
from ._service import Service
from ._values import Change, Snapshot, ValueType, VariableInfo
from ._watch import Watch

__all__ = [
    "CLIENT_VERSION",
    "AlreadyExistsError",
    "ApiKey",
    "Authenticated",
    "Change",
    "Client",
    "CommyError",
    "CommyTimeoutError",
    "ConflictError",
    "ConnectionLostError",
    "Encoding",
    "InternalError",
    "InvalidRequestError",
    "LimitExceededError",
    "NotFoundError",
    "PermissionDeniedError",
    "Reconnect",
    "Service",
    "Snapshot",
    "SubscriptionEndedError",
    "Token",
    "Transport",
    "UnauthorizedError",
    "UnsupportedError",
    "ValueType",
    "VariableInfo",
    "Watch",
    "connect",
]
