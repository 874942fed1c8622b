#!/usr/bin/env bash
# The Python client's stage (clients/python): a virtualenv with the client and its tools, the commy binary and the
# commy-local extension built, then ruff, mypy --strict and pytest against real `commy serve` processes.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
venv="${COMMY_PY_VENV:-$target_dir/py-venv}"
py="$venv/bin/python"

step "python: virtualenv at $venv"
if [ ! -x "$py" ]; then
    python3 -m venv "$venv"
fi
"$py" -m pip install -q --disable-pip-version-check websockets msgpack pytest ruff mypy maturin
"$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./clients/python

step "python: cargo build -p commy"
cargo build -q -p commy --locked
export COMMY_BIN="$target_dir/debug/commy"

step "python: commy-local (the extension crate, outside the workspace): fmt, clippy"
(cd clients/python/commy-local && cargo fmt --check && PYO3_PYTHON="$py" cargo clippy -q --locked -- -D warnings)

step "python: build and install the commy-local extension (maturin, debug profile)"
MATURIN_PEP517_ARGS="--profile dev" \
    "$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./clients/python/commy-local
export COMMY_REQUIRE_LOCAL=1

cd clients/python
step "python: ruff"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .

step "python: mypy --strict"
"$venv/bin/mypy" src tests examples bench

step "python: pytest"
status=0
"$venv/bin/pytest" -q tests || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: the Python stage must run its tests" >&2
    exit 1
fi
[ "$status" -eq 0 ] || exit "$status"

step "python: the benchmark, briefly (a smoke test; figures in docs/performance.md come from full runs)"
"$py" bench/bench_u64.py --quick
