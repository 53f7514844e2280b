#!/usr/bin/env bash
# Writes the secrets deploy/compose.yaml reads, where they are missing:
#   - deploy/.env: a random password for each NATS user (the variables of env.example);
#   - deploy/secrets/api-tokens: a random coordinator token and analyst token, one
#     `role:token` a line (CIRCLEMADE_API_TOKENS_FILE of every service).
# Existing values are left alone, so running it again changes nothing; a variable
# env.example has gained since (a new NATS user, as reporting-replica's
# NATS_REPORTING_REPLICA_PASSWORD) is added to an existing deploy/.env. Delete a file to
# have it made anew (then restart everything that uses it). Prints where they are,
# never their contents.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# 32 hex digits from the kernel's generator: URL-safe, so it fits in a nats:// URL.
random() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

umask 077
if [[ ! -e .env ]]; then
    while IFS= read -r line; do
        [[ "$line" =~ ^([A-Z_]+)= ]] || continue
        echo "${BASH_REMATCH[1]}=$(random)"
    done <env.example >.env
    echo "secrets: wrote deploy/.env (NATS passwords)"
else
    added=()
    while IFS= read -r line; do
        [[ "$line" =~ ^([A-Z_]+)= ]] || continue
        name="${BASH_REMATCH[1]}"
        grep -q "^${name}=" .env && continue
        # A file whose last line lacks its newline would swallow the new variable.
        [[ -s .env && -n "$(tail -c 1 .env)" ]] && echo >>.env
        echo "${name}=$(random)" >>.env
        added+=("$name")
    done <env.example
    if ((${#added[@]})); then
        echo "secrets: added ${added[*]} to deploy/.env; the other values are left as they are"
    else
        echo "secrets: deploy/.env exists; left as it is"
    fi
fi

mkdir -p secrets
if [[ ! -e secrets/api-tokens ]]; then
    printf 'coordinator:%s\nanalyst:%s\n' "$(random)" "$(random)" >secrets/api-tokens
    # The services run as user 65532 and read it through a bind mount; the directory
    # (mode 700) keeps other users of this host out.
    chmod 444 secrets/api-tokens
    echo "secrets: wrote deploy/secrets/api-tokens (coordinator and analyst tokens)"
else
    echo "secrets: deploy/secrets/api-tokens exists; left as it is"
fi
