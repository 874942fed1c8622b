// A terminal dashboard: prints every change of every variable of the `weather` service as it happens. See README.md
// beside this file.

import { formatValue } from "../../src/index.js";
import { connectFromEnv, flag } from "../common.js";

const untilSequence = flag("until-sequence", Infinity);
const client = await connectFromEnv();
const weather = await client.getService("weather");
const stop = weather.watch("*", (change) => {
  console.log(`${change.variable} = ${formatValue(change.value)} (version ${change.version})`);
  const sequence = (change.value as { sequence?: unknown } | null)?.sequence;
  if (change.variable === "reading" && typeof sequence === "number" && sequence >= untilSequence) {
    stop();
    void client.close();
  }
});
await stop.ready;
console.error("dashboard watching 'weather' (Ctrl-C to stop)");
