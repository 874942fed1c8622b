"""A terminal dashboard (asyncio): watches every variable of the ``weather`` service and shows each change as it
happens: redrawn in place on a terminal, one line per change otherwise. See README.md beside this file."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from _common import parser, say, settings, transport

import commy


async def wait_for_service(client: commy.Client, name: str) -> commy.Service:
    """The sensor creates the service: wait for it, for at most a minute."""
    for _ in range(600):
        try:
            return await client.get_service(name)
        except commy.NotFoundError:
            await asyncio.sleep(0.1)
    return await client.get_service(name)


def draw(values: dict[str, Any], versions: dict[str, int]) -> None:
    sys.stdout.write("\x1b[H\x1b[J weather\n")
    for name in sorted(values):
        sys.stdout.write(f"  {name:<12} {values[name]!s:<60} v{versions[name]}\n")
    sys.stdout.flush()


async def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--until-sequence", type=int, default=None, help="stop once a reading has this sequence")
    args = p.parse_args()
    # Remote unless told otherwise: the point is to show both paths seeing the same values.
    choice = "remote" if args.transport == "auto" else args.transport
    url, tenant, key = settings()
    async with commy.connect(url, tenant=tenant, api_key=key, transport=transport(choice)) as client:
        weather = await wait_for_service(client, "weather")
        say(f"dashboard watching 'weather' over the {weather.transport} transport")
        values: dict[str, Any] = {}
        versions: dict[str, int] = {}
        shown = 0
        async with weather.watch() as changes:
            async for change in changes:
                values[change.variable], versions[change.variable] = change.value, change.version
                if sys.stdout.isatty():
                    draw(values, versions)
                else:
                    say(f"{change.variable} = {change.value} (version {change.version})")
                shown += 1
                reading = values.get("reading")
                sequence = reading.get("sequence") if isinstance(reading, dict) else None
                if args.count is not None and shown >= args.count:
                    break
                if args.until_sequence is not None and sequence == args.until_sequence:
                    break


if __name__ == "__main__":
    asyncio.run(main())
