"""A weather station (asyncio): creates the ``weather`` service and its variables if they are not there yet, then
writes a reading every interval. See README.md beside this file."""

from __future__ import annotations

import asyncio
import math

from _common import parser, say, settings, transport

import commy


async def ensure(service: commy.Service, name: str, **allocation: object) -> None:
    """Allocates a variable unless it exists."""
    try:
        await service.allocate(name, **allocation)  # type: ignore[arg-type]
    except commy.AlreadyExistsError:
        pass


async def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    args = p.parse_args()
    url, tenant, key = settings()
    async with commy.connect(url, tenant=tenant, api_key=key, transport=transport(args.transport)) as client:
        try:
            weather = await client.create_service("weather")
        except commy.AlreadyExistsError:
            weather = await client.get_service("weather")
        await ensure(weather, "temperature", type="f64", initial=20.0)
        await ensure(weather, "humidity", type="f64", initial=50.0)
        await ensure(weather, "reading", type="json", capacity=512)
        say(f"sensor writing to 'weather' over the {weather.transport} transport")
        sequence = 0
        while args.count is None or sequence < args.count:
            sequence += 1
            # A day in fast motion: temperature swings around 20 °C, humidity against it.
            phase = sequence / 4
            temperature = round(20 + 8 * math.sin(phase), 1)
            humidity = round(55 - 20 * math.sin(phase), 1)
            await weather.write("temperature", temperature)
            await weather.write("humidity", humidity)
            reading = {"station": "roof", "temperature": temperature, "humidity": humidity, "sequence": sequence}
            await weather.write("reading", reading)
            say(f"reading {sequence}: temperature {temperature} °C, humidity {humidity} %")
            await asyncio.sleep(args.interval)


if __name__ == "__main__":
    asyncio.run(main())
