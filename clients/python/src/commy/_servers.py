"""The servers a client may use: the URL list it was given, what a move to another one reports, and the error that
names them all when none answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._errors import ConnectionLostError, InvalidRequestError
from ._url import websocket_url


@dataclass(frozen=True)
class Reconnect:
    """What ``on_reconnect`` is called with: the client is up again after a drop, authenticated and its watches
    subscribed again, on ``url`` (perhaps another server than ``previous_url``, whose link dropped)."""

    url: str
    previous_url: str
    #: How many rounds through the URL list it took (1: a server of the first round took the client back).
    rounds: int


def server_urls(url: str | Sequence[str]) -> list[str]:
    """The WebSocket URLs of one URL, a comma-separated string of them, or a list (whose entries may hold commas
    too); ``InvalidRequestError`` if there is none or one is not a server URL."""
    given = [url] if isinstance(url, str) else list(url)
    parts = [part.strip() for entry in given for part in entry.split(",")]
    urls = [websocket_url(part) for part in parts if part]
    if not urls:
        raise InvalidRequestError(
            "no server URL given: expected ws://host:port, or several (a list, or comma-separated)"
        )
    return urls


def no_server_answered(urls: Sequence[str], failures: Mapping[str, str], rounds: int) -> ConnectionLostError:
    """``ConnectionLostError`` naming every server and why it could not be used the last time it was tried."""
    tries = "once" if rounds == 1 else f"{rounds} times"
    why = "; ".join(f"{url}: {failures.get(url, 'not tried')}" for url in urls)
    return ConnectionLostError(f"no server answered (each tried {tries}): {why}")
