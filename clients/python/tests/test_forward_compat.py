"""A newer server: push types and fields this client does not know are ignored, and a server-ended subscription ends
the watch with a clear exception. Played by a scripted WebSocket server, so that the messages are exactly these."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import run
from websockets.asyncio.server import ServerConnection, serve

import commy


async def scripted(ws: ServerConnection) -> None:
    """Answers the requests the test makes, with extra fields, and pushes what a newer server might."""

    async def send(message_type: str, data: dict[str, Any], request_id: int | None = None) -> None:
        envelope: dict[str, Any] = {"type": message_type, "data": data, "added_in_v9": [1, 2]}
        if request_id is not None:
            envelope["id"] = request_id
        await ws.send(json.dumps(envelope))

    async for frame in ws:
        request = json.loads(frame)
        kind, rid, data = request["type"], request.get("id"), request["data"]
        if kind == "Authenticate":
            await send("FutureNotice", {"text": "a push type this client does not know"})
            reply = {"success": True, "message": "ok", "server_version": "9.0.0", "permissions": ["read"]}
            await send("AuthenticationResult", {**reply, "quota": {"x": 1}}, rid)
        elif kind == "GetService":
            await send("Service", {"service_id": "svc_1", "service_name": data["service_name"], "tenant_id": "t"}, rid)
        elif kind == "Subscribe":
            await send("Result", {"success": True, "message": "subscribed"}, rid)
        elif kind == "ReadVariable":
            value = {"service_id": "svc_1", "variable_name": "n", "data": [1, 0, 0, 0, 0, 0, 0, 0], "version": 1}
            await send("VariableData", {**value, "value": 1, "written_by": "someone"}, rid)
            await send("SomethingElse", {})
            change = {"service_id": "svc_1", "variable_name": "n", "data": [2, 0, 0, 0, 0, 0, 0, 0], "version": 2}
            await send("VariableChanged", {**change, "value": 2, "origin": "local"})
            await send("SubscriptionEnded", {"service_id": "svc_1", "variable_name": "n", "reason": "key revoked"})
        else:
            await send("Error", {"code": "SOMETHING_NEW", "message": f"{kind} is not scripted"}, rid)


@run
async def test_unknown_pushes_and_fields_are_ignored() -> None:
    async with serve(scripted, "127.0.0.1", 0, subprotocols=["commy.v1.json"]) as server:  # type: ignore[list-item]
        port = next(iter(server.sockets)).getsockname()[1]
        async with commy.connect(f"ws://127.0.0.1:{port}", tenant="t", api_key="k", transport="remote") as client:
            svc = await client.get_service("s")
            watch = svc.watch("n")
            # The push (version 2) overtook the initial read's reply (version 1), which is then dropped: a watch
            # never goes back to an older version.
            change = await anext(watch)
            assert (change.value, change.version, change.data[0]) == (2, 2, 2)
            with pytest.raises(commy.SubscriptionEndedError, match="key revoked"):
                await anext(watch)
            # An error code this client does not know is still a CommyError that keeps it.
            with pytest.raises(commy.CommyError) as unknown:
                await client.heartbeat()
            assert unknown.value.code == "SOMETHING_NEW"
