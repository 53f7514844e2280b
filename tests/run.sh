#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing, then checks
# the deployment configs (deploy/check.py), formatting and lints, runs the Rust tests
# (against real nats-server processes) and, where tests/python exists, the Python
# subscriber tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() {
    printf '\nFAILED: %s\n' "$*" >&2
    exit 1
}

# A run builds the workspace once, from nothing on a new machine: incremental
# compilation data would only double the disk it takes (about 2 GB without it).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step "set-up"
NATS_SERVER="$(bash deploy/setup.sh --nats-server-path)" || fail "set-up (deploy/setup.sh)"
export NATS_SERVER
echo "nats-server: $NATS_SERVER"
# The dashboard test renders the page in headless Chromium; where the set-up cannot
# install it (no root), that test says it skipped instead of failing.
if bash deploy/setup.sh --with-chromium >/dev/null; then
    export CIRCLEMADE_REQUIRE_CHROMIUM=1
    echo "chromium: found (the dashboard test must run)"
else
    echo "chromium: none, and it could not be installed: the dashboard test will skip"
fi

step "deployment configs"
python=target/tools/venv/bin/python
"$python" deploy/check.py || fail "deployment configs (deploy/check.py)"
"$python" -m pytest -q -p no:cacheprovider deploy/tests || fail "the deployment checker's own tests (deploy/tests)"

step "formatting"
cargo fmt --all -- --check || fail "formatting; run: cargo fmt --all"

step "lints"
cargo clippy --workspace --all-targets -- -D warnings || fail "clippy warnings"

step "Rust tests"
# Linking a test binary on a full disk dies with a bus error, which says nothing of
# the cause: say it first.
mkdir -p target
free_kb=$(df -Pk target | awk 'NR == 2 { print $4 }')
if ((free_kb < 3 * 1024 * 1024)); then
    echo "warning: $((free_kb / 1024)) MB free where target/ is; the test build needs about 3 GB" >&2
fi
cargo test --workspace || fail "Rust tests"

if [[ -d tests/python ]]; then
    step "Python tests"
    python=target/tools/venv/bin/python
    [[ -x "$python" ]] || python=python3
    status=0
    "$python" -m pytest tests/python || status=$?
    # pytest exits 5 when it collected nothing: an empty suite is a failure here.
    ((status == 5)) && fail "tests/python holds no tests"
    ((status == 0)) || fail "Python tests"
fi

step "all tests passed"
