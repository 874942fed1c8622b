#!/usr/bin/env bash
# The project's one test command: formatting, lints, docs, the Rust test suite, then the TypeScript and Python clients
# against real servers. Each stage prints how long it took; the last line sums them up.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
stage_name=""
stage_start=$SECONDS
timings=()

finish_stage() {
    if [[ -n $stage_name ]]; then
        local took=$((SECONDS - stage_start))
        timings+=("$(printf '%5ds  %s' "$took" "$stage_name")")
        printf '==> %s: %ds\n' "$stage_name" "$took"
    fi
}

step() {
    finish_stage
    stage_name="$*"
    stage_start=$SECONDS
    printf '\n==> %s\n' "$stage_name"
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "nats-server for the cluster tests (scripts/nats-server.sh)"
# commy-cluster's tests run a real nats-server from this variable and fail, saying how to get one, without it.
COMMY_NATS_SERVER="$(./scripts/nats-server.sh)"
export COMMY_NATS_SERVER
"$COMMY_NATS_SERVER" --version

step "cargo test"
cargo test --workspace --locked

step "TypeScript client and dashboard (scripts/test-ts.sh)"
./scripts/test-ts.sh

step "Python client (scripts/test-python.sh)"
./scripts/test-python.sh

finish_stage
printf '\n==> stage times\n'
printf '%s\n' "${timings[@]}"
printf '%5ds  total\n' "$((SECONDS - started))"
