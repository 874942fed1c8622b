"""Credentials: what ``Authenticate`` carries, kept to authenticate again after a reconnect."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidRequestError

#: A function that returns a fresh token (for example a JWT), plain or async. It is called on every
#: (re)authentication, so an expired token is replaced after a reconnect.
TokenSource = Callable[[], str | Awaitable[str]]


@dataclass(frozen=True)
class Credential:
    """One authentication: a tenant (``None`` for the server itself) and a key or a token."""

    tenant: str | None
    api_key: str | None = None
    token: str | None = None
    get_token: TokenSource | None = None

    @staticmethod
    def of(
        tenant: str | None, api_key: str | None, token: str | None, get_token: TokenSource | None
    ) -> Credential | None:
        given = [name for name, v in (("api_key", api_key), ("token", token), ("get_token", get_token)) if v]
        if len(given) > 1:
            raise InvalidRequestError(f"give one credential, not {' and '.join(given)}")
        if not given:
            if tenant is not None:
                raise InvalidRequestError(f"tenant {tenant!r} given without a credential: pass api_key= or token=")
            return None
        return Credential(tenant, api_key, token, get_token)

    async def fields(self, client_version: str) -> dict[str, Any]:
        """The ``Authenticate`` request's fields, with a fresh token if a source was given."""
        fields: dict[str, Any] = {"client_version": client_version}
        if self.tenant is not None:
            fields["tenant_id"] = self.tenant
        if self.api_key is not None:
            fields.update(method="api_key", key=self.api_key)
            return fields
        token = self.token
        if self.get_token is not None:
            got = self.get_token()
            token = await got if inspect.isawaitable(got) else got
        if not isinstance(token, str):
            raise InvalidRequestError(f"the token source returned {type(token).__name__}, not a string")
        fields.update(method="jwt", token=token)
        return fields
