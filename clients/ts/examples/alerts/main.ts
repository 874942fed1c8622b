// An alert: watches `weather/temperature` and prints an alert each time it rises above a threshold. See README.md
// beside this file.

import { connectFromEnv, flag } from "../common.js";

const threshold = flag("threshold", 25);
const count = flag("count", Infinity);
const client = await connectFromEnv();
const weather = await client.getService("weather");
let above = false;
let fired = 0;
const stop = weather.watch("temperature", (change) => {
  const temperature = change.value as number;
  // Fire once per crossing, not on every reading above the line.
  if (temperature > threshold && !above) {
    fired += 1;
    console.log(`ALERT: temperature ${temperature} °C is above ${threshold} °C (version ${change.version})`);
    if (fired >= count) {
      stop();
      void client.close();
    }
  }
  above = temperature > threshold;
});
await stop.ready;
console.log(`alerts watching weather/temperature, threshold ${threshold} °C`);
