// The dashboard in a real browser (Debian's chromium, driven by playwright-core) against a real `commy serve`: sign
// in, see a variable, see it change live after another client writes, edit it, and see the error for a bad value.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";
import { connect } from "../../src/index.js";
import type { Client } from "../../src/index.js";
import { ALL, CommyServer } from "../support/server.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** docs/dashboard.png with SCREENSHOT=docs (npm run screenshot), else a file in the temporary directory. */
const SCREENSHOT =
  process.env.SCREENSHOT === "docs"
    ? resolve(fileURLToPath(new URL(".", import.meta.url)), "../../../../../docs/dashboard.png")
    : join(tmpdir(), "commy-dashboard.png");

let server: CommyServer;
let writer: Client;
let context: BrowserContext;
let profile: string;
let key: string;
const problems: string[] = [];

before(async () => {
  server = await CommyServer.start();
  key = await server.tenantKey("acme", ALL);
  writer = await connect(server.url, { tenant: "acme", apiKey: key });
  const weather = await writer.createService("weather");
  await weather.allocate("temperature", { type: "f64", initial: 21.5 });
  await weather.allocate("humidity", { type: "u64", initial: 48 });
  await weather.allocate("station", { type: "string", initial: "roof-north", capacity: 32 });
  await weather.allocate("raining", { type: "bool" });
  const plant = await writer.createService("plant/line-1");
  await plant.allocate("speed", { type: "f64", initial: 1.25 });
  await plant.allocate("config", { type: "json", initial: { mode: "auto", limit: 40 } });
  profile = mkdtempSync(join(tmpdir(), "commy-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1100, height: 640 },
  });
});

after(async () => {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await writer.close();
  await server.dispose();
});

function valueButton(page: Page, name: string) {
  return page.getByRole("button", { name: `Value of ${name}`, exact: true });
}

test("sign in, watch a variable change live, edit it, and see a bad value refused", async () => {
  const page = await context.newPage();
  page.on("console", (message) => {
    // The browser logs each refused reconnect attempt while the server restarts; anything else is a problem.
    if (message.type() === "error" && !/^WebSocket connection to .* failed/.test(message.text())) {
      problems.push(message.text());
    }
  });
  page.on("pageerror", (error) => problems.push(error.message));
  const response = await page.goto(`http://127.0.0.1:${server.port}/`);
  assert.match(response?.headers()["content-security-policy"] ?? "", /default-src 'none'/);

  await page.getByLabel("Tenant").fill("acme");
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor();
  const temperature = valueButton(page, "temperature");
  await temperature.filter({ hasText: "21.5" }).waitFor();

  // Another client writes; the page shows it without a reload.
  const weather = await writer.getService("weather");
  await weather.write("temperature", 22.25);
  await temperature.filter({ hasText: "22.25" }).waitFor();
  for (let i = 0; i < 5; i++) await weather.write("humidity", 50 + i);
  await valueButton(page, "humidity").filter({ hasText: "54" }).waitFor();

  // Edit in place with the keyboard.
  await temperature.focus();
  await page.keyboard.press("Enter");
  const input = page.getByLabel("New value of temperature (f64)");
  await input.fill("23.5");
  await input.press("Enter");
  await temperature.filter({ hasText: "23.5" }).waitFor();
  assert.equal((await weather.read("temperature")).value, 23.5);

  // A bad value is refused before it is sent, with a message; nothing changes.
  await temperature.click();
  await input.fill("warm");
  await input.press("Enter");
  await page.getByRole("alert").filter({ hasText: "not a number" }).waitFor();
  assert.equal((await weather.read("temperature")).value, 23.5);
  await input.press("Escape");

  // The key is in no URL and not in localStorage.
  assert.ok(!page.url().includes(key));
  assert.equal(await page.evaluate(() => localStorage.length), 0);

  // A server restart: the banner says so, and the page goes on by itself.
  await page.evaluate(() => {
    const banner = document.getElementById("banner") as HTMLElement;
    const states: string[] = [];
    (window as unknown as { states: string[] }).states = states;
    new MutationObserver(() => states.push(banner.dataset.state ?? "")).observe(banner, { attributes: true });
  });
  await server.restart();
  await weather.write("humidity", 61);
  await valueButton(page, "humidity").filter({ hasText: "61" }).waitFor();
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor();
  const states = await page.evaluate(() => (window as unknown as { states: string[] }).states);
  assert.ok(states.includes("reconnecting"), `banner states: ${states.join(", ")}`);

  await page.getByLabel("Search").fill("weather");
  await page.getByLabel("Search").fill("");
  await weather.write("station", "roof-south");
  await valueButton(page, "station").filter({ hasText: "roof-south" }).waitFor();
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  // Readable on a phone: the same page at a phone's width (kept beside the other for a look).
  await page.setViewportSize({ width: 390, height: 800 });
  await page.screenshot({ path: join(tmpdir(), "commy-dashboard-phone.png"), fullPage: true });
  assert.deepEqual(problems, [], "no errors in the page (CSP violations included)");
});
