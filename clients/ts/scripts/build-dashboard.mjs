// Builds the dashboard (clients/ts/dashboard) into the assets the server embeds (crates/commy-server/assets/dashboard).
// `--check` builds in memory and fails if the committed assets differ (CI runs it so they are never stale).

import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, "../../crates/commy-server/assets/dashboard");
const check = process.argv.includes("--check");

const bundle = await build({
  entryPoints: [join(root, "dashboard/app.ts")],
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  legalComments: "none",
  external: ["ws"],
  write: false,
  logLevel: "error",
});
const files = {
  "app.js": bundle.outputFiles[0].text,
  "index.html": readFileSync(join(root, "dashboard/index.html"), "utf8"),
  "style.css": readFileSync(join(root, "dashboard/style.css"), "utf8"),
};

if (check) {
  const stale = Object.entries(files).filter(([name, text]) => {
    const path = join(out, name);
    return !existsSync(path) || readFileSync(path, "utf8") !== text;
  });
  if (stale.length > 0) {
    console.error(`the committed dashboard is stale: ${stale.map(([n]) => n).join(", ")}; run npm run dashboard in clients/ts and commit crates/commy-server/assets/dashboard`);
    process.exit(1);
  }
  console.log("the committed dashboard matches its sources");
} else {
  mkdirSync(out, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(out, name), text);
  console.log(`dashboard built into ${out}: ${Object.entries(files).map(([n, t]) => `${n} ${t.length} B`).join(", ")}`);
}
