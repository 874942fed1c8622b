"""An alert (the blocking client): watches ``weather/temperature`` and fires when it crosses a threshold, once per
crossing. See README.md beside this file."""

from __future__ import annotations

import time

from _common import parser, say, settings, transport

import commy
import commy.sync


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--threshold", type=float, default=25.0, help="°C")
    args = p.parse_args()
    url, tenant, key = settings()
    with commy.sync.connect(url, tenant=tenant, api_key=key, transport=transport(args.transport)) as client:
        # The sensor creates the service and its variables: wait for them, for at most a minute.
        for _ in range(600):
            try:
                watch = client.get_service("weather").watch("temperature")
                first = watch.next()
                break
            except commy.NotFoundError:
                time.sleep(0.1)
        else:
            raise SystemExit("no weather/temperature after a minute: is the sensor running?")
        say(f"alerts watching temperature > {args.threshold} °C")
        above = first.value > args.threshold
        fired = 0
        for change in watch:
            celsius = change.value
            if not above and celsius > args.threshold:
                say(f"ALERT: temperature {celsius} °C is above {args.threshold} °C")
                fired += 1
            elif above and celsius <= args.threshold:
                say(f"ok: temperature {celsius} °C is back under {args.threshold} °C")
            above = celsius > args.threshold
            if args.count is not None and fired >= args.count:
                break


if __name__ == "__main__":
    main()
