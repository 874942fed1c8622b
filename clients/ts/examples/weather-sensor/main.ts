// A weather station: creates the `weather` service and its variables (if they are not there yet) and writes a
// reading every interval. See README.md beside this file.

import { CommyError } from "../../src/index.js";
import type { AllocateOptions, Client, Service } from "../../src/index.js";
import { connectFromEnv, flag } from "../common.js";

async function serviceNamed(client: Client, name: string): Promise<Service> {
  try {
    return await client.createService(name);
  } catch (error) {
    if (error instanceof CommyError && error.code === "ALREADY_EXISTS") return client.getService(name);
    throw error;
  }
}

/** Allocates a variable unless it exists. */
async function ensure(service: Service, name: string, options: AllocateOptions): Promise<void> {
  try {
    await service.allocate(name, options);
  } catch (error) {
    if (!(error instanceof CommyError && error.code === "ALREADY_EXISTS")) throw error;
  }
}

const count = flag("count", Infinity);
const intervalMs = flag("interval-ms", 1000);
const client = await connectFromEnv();
const weather = await serviceNamed(client, "weather");
await ensure(weather, "temperature", { type: "f64", initial: 20 });
await ensure(weather, "humidity", { type: "f64", initial: 50 });
await ensure(weather, "reading", { type: "json", capacity: 512 });
console.log("sensor writing to 'weather'");

const tenth = (x: number) => Math.round(x * 10) / 10;
for (let sequence = 1; sequence <= count; sequence++) {
  // A day in fast motion: temperature swings around 20 °C, humidity against it.
  const phase = sequence / 4;
  const temperature = tenth(20 + 8 * Math.sin(phase));
  const humidity = tenth(55 - 20 * Math.sin(phase));
  await weather.write("temperature", temperature);
  await weather.write("humidity", humidity);
  await weather.write("reading", { station: "roof", temperature, humidity, sequence });
  console.log(`reading ${sequence}: temperature ${temperature} °C, humidity ${humidity} %`);
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
await client.close();
