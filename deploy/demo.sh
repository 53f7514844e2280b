#!/usr/bin/env bash
# Runs circlemade locally, as the README's Quickstart says:
#   1. installs what is missing (deploy/setup.sh: nats-server, the Python venv);
#   2. builds the services in release;
#   3. starts a real nats-server with JetStream (file store under $data_dir/nats) and
#      each service with its own data dir under $data_dir, and waits until each is ready;
#   4. loads the 2018 programme through the services' HTTP APIs, with back-dated times
#      (deploy/programme/load.py; loading again on the same data dir writes nothing);
#   5. waits until reporting has caught up, by log positions, and prints the KPIs of
#      2018 against their targets (deploy/programme/report.py);
#   6. prints the URLs and tokens, and serves until SIGINT or SIGTERM, then stops every
#      service with SIGTERM (they drain their outbox and flush), then nats-server, and
#      exits 0.
#
# A service takes part once its binary exists in the workspace (services/<name>/src/main.rs);
# until then the demo says plainly what is not part of the system yet, and runs the rest.
#
# Settings (environment): CIRCLEMADE_DATA_DIR (default data), CIRCLEMADE_NATS_PORT (4222),
# CIRCLEMADE_NATS_MONITOR_PORT (8222), CIRCLEMADE_MEMBERSHIP_PORT (8081),
# CIRCLEMADE_EVENTS_PORT (8082), CIRCLEMADE_REPORTING_PORT (8083), CIRCLEMADE_API_TOKENS
# (default: a coordinator and an analyst token made up for the run, and printed),
# CIRCLEMADE_DEMO_SERVICES (default: every service that exists, e.g. "membership events").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The services of the system, in the order they start (and the reverse of their stop).
services=(membership events reporting)

data_dir="${CIRCLEMADE_DATA_DIR:-data}"
nats_port="${CIRCLEMADE_NATS_PORT:-4222}"
nats_monitor_port="${CIRCLEMADE_NATS_MONITOR_PORT:-8222}"
declare -A ports=(
    [membership]="${CIRCLEMADE_MEMBERSHIP_PORT:-8081}"
    [events]="${CIRCLEMADE_EVENTS_PORT:-8082}"
    [reporting]="${CIRCLEMADE_REPORTING_PORT:-8083}"
)
ready_deadline=60 # seconds, for each process to become ready
stop_deadline=30  # seconds, for each process to stop after SIGTERM

say() { printf 'demo: %s\n' "$*"; }

declare -A pids=()
started=() # names, in start order

# Stops what was started, services first (newest first), nats-server last; exits $1.
stop() {
    local status="${1:-0}" name i deadline
    trap - INT TERM
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do
        name="${started[i]}"
        kill -0 "${pids[$name]}" 2>/dev/null || continue
        say "stopping $name"
        kill -TERM "${pids[$name]}" 2>/dev/null || true
        deadline=$((SECONDS + stop_deadline))
        while kill -0 "${pids[$name]}" 2>/dev/null && ((SECONDS <= deadline)); do
            sleep 0.1
        done
        if kill -0 "${pids[$name]}" 2>/dev/null; then
            say "$name did not stop within $stop_deadline s; killing it (its log: $data_dir/$name.log)"
            kill -KILL "${pids[$name]}" 2>/dev/null || true
            status=1
        fi
        wait "${pids[$name]}" 2>/dev/null || true
    done
    say "stopped"
    exit "$status"
}
trap 'stop 0' INT TERM

# Runs "$@" in a process group of its own, so that Ctrl-C reaches only this script,
# which then stops the services in order (services before the nats-server they drain to).
spawn() {
    local name="$1" log="$2"
    shift 2
    if command -v setsid >/dev/null; then
        setsid "$@" >"$log" 2>&1 &
    else
        "$@" >"$log" 2>&1 &
    fi
    pids[$name]=$!
    started+=("$name")
}

# Waits until $2 answers 2xx, at most $ready_deadline seconds, while process $1 runs.
wait_ready() {
    local name="$1" url="$2" deadline=$((SECONDS + ready_deadline))
    until "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$url" 2>/dev/null; do
        if ! kill -0 "${pids[$name]}" 2>/dev/null; then
            say "$name exited while starting; the end of its log ($data_dir/$name.log):"
            tail -n 20 "$data_dir/$name.log" | sed 's/^/    /'
            return 1
        fi
        if ((SECONDS > deadline)); then
            say "$name was not ready within $ready_deadline s ($url); its log is $data_dir/$name.log"
            return 1
        fi
        sleep 0.1
    done
}

# True when nothing listens on port $1 (a port left in TIME_WAIT by a run just stopped
# is free: the servers bind with SO_REUSEADDR too).
port_free() {
    "$python" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

# --- 1. what is missing ---------------------------------------------------------------
if ! command -v cargo >/dev/null; then
    say "cargo is missing: install Rust (https://rustup.rs), then run this again"
    exit 1
fi
nats_server="$(bash deploy/setup.sh --nats-server-path)"
python=target/tools/venv/bin/python

present=() # services whose binary is part of the workspace, and that are to run
absent=()
for name in "${services[@]}"; do
    if [[ ! -f "services/$name/src/main.rs" ]]; then
        absent+=("$name")
        say "not part of the system yet: the $name service (services/$name has no binary yet)"
    elif [[ -n "${CIRCLEMADE_DEMO_SERVICES:-}" && " $CIRCLEMADE_DEMO_SERVICES " != *" $name "* ]]; then
        say "not started: the $name service (not in CIRCLEMADE_DEMO_SERVICES)"
    else
        present+=("$name")
    fi
done
has() { [[ " ${present[*]} " == *" $1 "* ]]; }

# A data dir loaded with the members alone (before the events service existed) cannot
# take the activities now: the events service would learn the members' statuses of the
# end of the year and refuse the year's registrations.
loaded_marker="$data_dir/programme-loaded"
if has events && [[ "$(cat "$loaded_marker" 2>/dev/null)" == "members" ]]; then
    say "$data_dir/ holds the 2018 members loaded without the events service, which can no"
    say "longer replay the year's activities over them. Start from an empty data dir:"
    say "    rm -rf $data_dir && bash deploy/demo.sh    (or CIRCLEMADE_DATA_DIR=another-dir)"
    exit 1
fi

for port in "$nats_port" "$nats_monitor_port" $(for name in "${present[@]}"; do echo "${ports[$name]}"; done); do
    if ! port_free "$port"; then
        say "port $port is in use (another demo still running?); stop it, or choose other ports (see the top of deploy/demo.sh)"
        exit 1
    fi
done

# --- 2. build -------------------------------------------------------------------------
if ((${#present[@]} > 0)); then
    say "building ${present[*]} (release)"
    # shellcheck disable=SC2046 # one -p per service
    if ! cargo build --release --quiet $(printf -- '-p circlemade-%s ' "${present[@]}"); then
        say "the build failed (above)"
        exit 1
    fi
fi

# --- tokens ---------------------------------------------------------------------------
if [[ -n "${CIRCLEMADE_API_TOKENS:-}" ]]; then
    api_tokens="$CIRCLEMADE_API_TOKENS"
else
    api_tokens="coordinator:dev-coordinator-$("$python" -c 'import secrets; print(secrets.token_hex(12))'),analyst:dev-analyst-$("$python" -c 'import secrets; print(secrets.token_hex(12))')"
fi
token_of() { tr ',' '\n' <<<"$api_tokens" | sed -n "s/^ *$1:\(.*\)$/\1/p" | head -n 1; }
coordinator_token="$(token_of coordinator)"
analyst_token="$(token_of analyst)"
if [[ -z "$coordinator_token" || -z "$analyst_token" ]]; then
    say "CIRCLEMADE_API_TOKENS must hold a coordinator:<token> and an analyst:<token>"
    exit 1
fi

# --- 3. start -------------------------------------------------------------------------
mkdir -p "$data_dir/nats"
say "starting nats-server ($("$nats_server" --version)) on 127.0.0.1:$nats_port, store $data_dir/nats"
spawn nats-server "$data_dir/nats.log" "$nats_server" --jetstream --store_dir "$data_dir/nats" \
    --addr 127.0.0.1 --port "$nats_port" --http_port "$nats_monitor_port" --server_name circlemade-local
wait_ready nats-server "http://127.0.0.1:$nats_monitor_port/healthz?js-enabled-only=true" || stop 1

for name in "${present[@]}"; do
    say "starting $name on 127.0.0.1:${ports[$name]}, data dir $data_dir/$name"
    spawn "$name" "$data_dir/$name.log" env \
        CIRCLEMADE_NATS_URL="nats://127.0.0.1:$nats_port" \
        CIRCLEMADE_DATA_DIR="$data_dir/$name" \
        CIRCLEMADE_HTTP_ADDR="127.0.0.1:${ports[$name]}" \
        CIRCLEMADE_API_TOKENS="$api_tokens" \
        CIRCLEMADE_LOOPBACK_READS=true \
        "target/release/circlemade-$name"
    wait_ready "$name" "http://127.0.0.1:${ports[$name]}/readyz" || stop 1
done

# --- 4. load the 2018 programme -------------------------------------------------------
positions="$data_dir/programme-positions.json"
rm -f "$positions"
if has membership; then
    load_args=(--membership "http://127.0.0.1:${ports[membership]}" --token "$coordinator_token"
        --positions-file "$positions")
    if has events; then
        load_args+=(--events "http://127.0.0.1:${ports[events]}")
        say "loading the 2018 programme (deploy/programme/programme-2018.toml)"
    else
        load_args+=(--only members)
        say "loading the members of the 2018 programme; its activities wait for the events service"
    fi
    if ! "$python" deploy/programme/load.py "${load_args[@]}"; then
        say "the 2018 programme did not load (above); the services' logs are in $data_dir/"
        stop 1
    fi
    if has events; then echo all >"$loaded_marker"; else echo members >"$loaded_marker"; fi
else
    say "the 2018 programme is not loaded: the membership service is not part of the system yet"
fi

# --- 5. the KPI report ----------------------------------------------------------------
echo
if has reporting && [[ -f "$positions" ]]; then
    if ! "$python" deploy/programme/report.py --positions-file "$positions" \
        --membership "http://127.0.0.1:${ports[membership]}" \
        --events "http://127.0.0.1:${ports[events]}" \
        --reporting "http://127.0.0.1:${ports[reporting]}" \
        --nats-monitor "http://127.0.0.1:$nats_monitor_port" \
        --token "$analyst_token" --year 2018; then
        say "reporting did not catch up with the load (above); its log is $data_dir/reporting.log"
        stop 1
    fi
elif has reporting; then
    echo "No KPI report: nothing was loaded."
elif [[ " ${absent[*]} " == *" reporting "* ]]; then
    echo "No KPI report: the reporting service is not part of the system yet."
else
    echo "No KPI report: the reporting service is not running (CIRCLEMADE_DEMO_SERVICES)."
fi

# --- 6. serve -------------------------------------------------------------------------
echo
echo "circlemade, running locally"
for name in "${present[@]}"; do
    base="http://127.0.0.1:${ports[$name]}"
    printf '  %-12s %s/v1/...  OpenAPI %s/openapi.json  metrics %s/metrics\n' "$name" "$base" "$base" "$base"
done
if has reporting; then
    printf '  %-12s %s\n' dashboard "http://127.0.0.1:${ports[reporting]}/dashboard"
fi
printf '  %-12s %s  (monitoring http://127.0.0.1:%s/jsz)\n' NATS "nats://127.0.0.1:$nats_port" "$nats_monitor_port"
printf '  %-12s coordinator %s\n' tokens "$coordinator_token"
printf '  %-12s analyst     %s\n' "" "$analyst_token"
printf '  %-12s %s/  (logs: %s/*.log)\n' "data dir" "$data_dir" "$data_dir"
if has membership; then
    echo
    echo "  e.g.  curl -H 'Authorization: Bearer $analyst_token' http://127.0.0.1:${ports[membership]}/v1/members?status=admitted"
fi
if ((${#absent[@]} == 1)); then
    echo
    echo "Not part of the system yet: the ${absent[0]} service; it joins this demo once built."
elif ((${#absent[@]} > 1)); then
    echo
    echo "Not part of the system yet: the ${absent[*]} services; they join this demo once built."
fi
echo
echo "Press Ctrl-C to stop."

# Serve until a signal (the trap stops everything) or until a process ends on its own.
while true; do
    wait -n || true
    for name in "${started[@]}"; do
        if ! kill -0 "${pids[$name]}" 2>/dev/null; then
            say "$name exited on its own; the end of its log ($data_dir/$name.log):"
            tail -n 20 "$data_dir/$name.log" | sed 's/^/    /'
            stop 1
        fi
    done
done
