"""Server URLs: ``ws://host:port`` or ``wss://host:port`` (the path defaults to ``/ws``); ``http`` is taken as ``ws``
and ``https`` as ``wss``."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ._errors import InvalidRequestError


def websocket_url(text: str) -> str:
    """The WebSocket URL to dial for a server URL, or ``InvalidRequestError`` naming what is wrong with it."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise InvalidRequestError(f"bad server URL {text!r}: {err}") from None
    scheme = {"ws": "ws", "http": "ws", "wss": "wss", "https": "wss"}.get(parts.scheme)
    if scheme is None:
        why = f"unknown scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise InvalidRequestError(f"bad server URL {text!r}: {why}, expected ws://host:port or wss://host:port")
    if not parts.hostname:
        raise InvalidRequestError(f"bad server URL {text!r}: no host")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port is None else f"{host}:{port}"
    path = parts.path if parts.path not in ("", "/") else "/ws"
    return f"{scheme}://{netloc}{path}"


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
