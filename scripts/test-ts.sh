#!/usr/bin/env bash
# The TypeScript client (clients/ts): install its locked dependencies, lint, typecheck, and run its tests against a
# real `commy serve` built here.
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

step "node --test (clients/ts, against commy serve)"
npm test
