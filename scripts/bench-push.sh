#!/usr/bin/env bash
# The push-path benchmarks of docs/performance.md (section 5, "Beside Redis" and "By watched services"): Commy's
# write -> push latency and 100-subscriber fan-out beside a Redis 7 started by the bench, and push latency at 1, 100,
# 1,000 and 10,000 watched services, each beside the raw WebSocket echo of the same run. Not part of CI.
#
#   scripts/bench-push.sh                      # both parts (the 10,000 level takes a few minutes to set up)
#   COMMY_BENCH_WATCHED=1,100,1000 scripts/bench-push.sh
#   COMMY_BENCH_SCALE=0.2 scripts/bench-push.sh  # shorter
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null; then
    echo "installing Debian's redis-server (the baseline)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
fi
# One descriptor per watched service file: take the hard limit (the bench also raises its own soft limit).
ulimit -n "$(ulimit -Hn)"
COMMY_BENCH_PARTS="${COMMY_BENCH_PARTS:-redis,watched}" cargo bench -p commy-bench --bench server_remote
