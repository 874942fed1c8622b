#!/usr/bin/env bash
# The TypeScript client (clients/ts) and the dashboard built on it: install the locked dependencies, lint, typecheck,
# check that the dashboard bundle embedded in the server is not stale, run the client's tests against a real
# `commy serve` built here, run the examples together, and drive the dashboard in Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
step "cargo build -p commy (the server the TypeScript tests start)"
cargo build -p commy --locked
export COMMY_BIN="$CARGO_TARGET_DIR/debug/commy"

cd clients/ts
step "npm ci (clients/ts)"
npm ci --no-audit --no-fund

step "eslint (clients/ts)"
npm run --silent lint

step "tsc --noEmit (clients/ts, strict)"
npm run --silent typecheck

step "dashboard bundle (crates/commy-server/assets/dashboard) matches its sources"
npm run --silent dashboard:check

step "node --test (clients/ts, against commy serve)"
npm test

step "the dashboard in chromium (playwright-core)"
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: install Debian's chromium package (apt-get install chromium)" >&2
    exit 1
  fi
fi
npm run test:browser
