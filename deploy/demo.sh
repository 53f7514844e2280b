#!/usr/bin/env bash
# Runs circlemade locally: installs what is missing, builds, starts a real nats-server
# with JetStream (file store under the data dir), and serves until SIGINT or SIGTERM,
# then stops everything cleanly and exits 0.
#
# What runs today: the NATS JetStream server the services will share, and the build of
# the whole workspace (event log, contracts, bus). The membership, events and reporting
# services, the loading of the 2018 programme and its KPI report are not part of the
# system yet; this script says so rather than pretending.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

data_dir="${CIRCLEMADE_DATA_DIR:-data}"
nats_port="${CIRCLEMADE_NATS_PORT:-4222}"
nats_monitor_port="${CIRCLEMADE_NATS_MONITOR_PORT:-8222}"

say() { printf 'demo: %s\n' "$*"; }

nats_server="$(bash deploy/setup.sh --nats-server-path)"
say "building the workspace (release)"
cargo build --release --workspace --quiet

mkdir -p "$data_dir/nats"
say "starting nats-server ($("$nats_server" --version)) on 127.0.0.1:$nats_port"
"$nats_server" --jetstream --store_dir "$data_dir/nats" \
    --addr 127.0.0.1 --port "$nats_port" --http_port "$nats_monitor_port" \
    --server_name circlemade-local >"$data_dir/nats.log" 2>&1 &
nats_pid=$!

stop() {
    trap - INT TERM
    say "stopping nats-server"
    kill -TERM "$nats_pid" 2>/dev/null || true
    wait "$nats_pid" 2>/dev/null || true
    say "stopped"
    exit 0
}
trap stop INT TERM

# Ready when JetStream answers on the monitoring endpoint; bounded wait.
deadline=$((SECONDS + 30))
healthz="http://127.0.0.1:$nats_monitor_port/healthz?js-enabled-only=true"
until python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$healthz" 2>/dev/null; do
    if ! kill -0 "$nats_pid" 2>/dev/null; then
        say "nats-server exited; its log:"
        tail -n 20 "$data_dir/nats.log"
        exit 1
    fi
    if ((SECONDS > deadline)); then
        say "nats-server did not become ready in 30 s; its log is $data_dir/nats.log"
        kill -TERM "$nats_pid" 2>/dev/null || true
        exit 1
    fi
    sleep 0.1
done

cat <<INFO

circlemade, running locally
  NATS (JetStream)   nats://127.0.0.1:$nats_port
  NATS monitoring    http://127.0.0.1:$nats_monitor_port/jsz
  data dir           $data_dir/

Not running yet: the membership, events and reporting services, the 2018 programme
and its KPI report. They join this demo as they are built (see README.md).

Press Ctrl-C to stop.
INFO

wait "$nats_pid"
say "nats-server exited on its own; its log is $data_dir/nats.log"
exit 1
