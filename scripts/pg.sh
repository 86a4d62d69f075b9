#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests: initdb in a temporary
# directory, loopback only, trust auth, run as the `postgres` user.
#   eval "$(scripts/pg.sh start)"   # exports CHAT_TEST_PG, CHAT_TEST_PGDATA
#   scripts/pg.sh stop "$CHAT_TEST_PGDATA"
# Installs Debian's postgresql-15 when it is missing.
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else as_root runuser -u postgres -- "$@"; fi; }

case "${1:-}" in
  start)
    if [ ! -x "$BIN/initdb" ]; then
      echo "== installing postgresql-15 (Debian package)" >&2
      as_root apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql-15 >&2
    fi
    dir=$(mktemp -d /tmp/chat-pg.XXXXXX)
    chmod 755 "$dir"
    as_root chown postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=300 -c fsync=on" start >/dev/null
    echo "export CHAT_TEST_PG='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
    echo "export CHAT_TEST_PGDATA='$dir/data'"
    ;;
  stop)
    dir=${2:?data directory}
    as_pg "$BIN/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1 || true
    as_root rm -rf "$(dirname "$dir")"
    ;;
  *)
    echo "usage: $0 start | stop DATADIR" >&2
    exit 2
    ;;
esac
