#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server for the storage tests:
#   scripts/with-postgres.sh .venv/bin/python -m pytest
# It installs Debian's `postgresql` when missing (as root), starts a cluster in a temporary folder
# listening only on 127.0.0.1 at a free port, exports LIANJU_TEST_POSTGRES_URL, runs the command
# and removes the cluster afterwards, whatever the command's outcome.
# With CI=true a server that cannot be had is an error; elsewhere the command runs without one
# and the PostgreSQL tests say why they skip.
set -euo pipefail

if [[ -n "${LIANJU_TEST_POSTGRES_URL:-}" ]]; then
    exec "$@"
fi

cluster=""
as_owner=()
stop_cluster() {
    [[ -n "$cluster" ]] || return 0
    "${as_owner[@]}" "$bindir/pg_ctl" stop -D "$cluster/data" -m immediate >/dev/null 2>&1 || true
    rm -rf "$cluster"
}
trap stop_cluster EXIT
# Interrupted or terminated: exit, so that the EXIT trap removes the cluster.
trap 'exit 130' INT
trap 'exit 143' TERM

unavailable() {
    local reason=$1
    shift
    stop_cluster
    if [[ "${CI:-}" == "true" ]]; then
        echo "with-postgres: $reason; CI needs the PostgreSQL run" >&2
        exit 1
    fi
    echo "with-postgres: $reason; the PostgreSQL storage tests will be skipped" >&2
    exec "$@"
}

find_bindir() {
    local initdb
    initdb=$(ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n "$initdb" ]] && dirname "$initdb"
}

bindir=$(find_bindir || true)
if [[ -z "$bindir" ]]; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        unavailable "PostgreSQL is not installed and cannot be installed here (needs root and apt-get)" "$@"
    fi
    echo "with-postgres: installing Debian's postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; } >&2 \
        || unavailable "apt-get could not install postgresql" "$@"
    bindir=$(find_bindir || true)
    [[ -n "$bindir" ]] || unavailable "installing postgresql gave no initdb" "$@"
fi

# PostgreSQL refuses to run as root: the cluster belongs to the postgres user then.
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    as_owner=(runuser -u postgres --)
fi

cluster=$(mktemp -d -t lianju-postgres.XXXXXX)
chmod 755 "$cluster"
[[ ${#as_owner[@]} -eq 0 ]] || chown postgres "$cluster"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_owner[@]}" "$bindir/initdb" -D "$cluster/data" -U lianju -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$cluster/initdb.log" \
    || { cat "$cluster/initdb.log" >&2; unavailable "initdb failed" "$@"; }
# The server is thrown away afterwards, so durability settings are off for speed.
"${as_owner[@]}" "$bindir/pg_ctl" start -w -D "$cluster/data" -l "$cluster/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $cluster -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null \
    || { cat "$cluster/server.log" >&2; unavailable "the PostgreSQL server did not start" "$@"; }
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U lianju lianju_test

export LIANJU_TEST_POSTGRES_URL="postgresql+psycopg://lianju@127.0.0.1:$port/lianju_test"
echo "with-postgres: $("$bindir/postgres" --version) on 127.0.0.1:$port (LIANJU_TEST_POSTGRES_URL)" >&2
status=0
"$@" || status=$?
exit "$status"
