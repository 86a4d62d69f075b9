#!/usr/bin/env bash
# Benchmarks the chat under load and prints a Markdown table; the JSON of
# every run goes to bench/results/. Not a test: nothing here asserts.
#
#   scripts/bench.sh                      # this build, plus the seed if set up
#   BASELINE=/path/to/older/server BASELINE_SITE=/its/site scripts/bench.sh
#                                         # and an older build, same run
#   SCENARIOS="a b f" scripts/bench.sh    # a subset
#   SCENARIOS=n scripts/bench.sh          # SQLite vs PostgreSQL, 1 and 2 nodes
#
# Every server is started fresh on loopback with its limits raised by
# flags, and stopped after its scenarios. The seed (../shared/seed, the
# Flask-SocketIO chat under gevent) runs beside it where a scenario
# applies; SEED_DIR points elsewhere, SEED=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
SCENARIOS=${SCENARIOS:-"d l a b c e f p r q h lh"}
SEED_DIR=${SEED_DIR:-../shared/seed}
SEED_WORK=${SEED_WORK:-/tmp/seed-work}
SEED=${SEED:-1}
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# SERVER and SITE name a build other than this tree's.
SERVER=${SERVER:-target/release/server}
SITE=${SITE:-target/site}
if [ ! -x "$SERVER" ] || [ ! -d "$SITE/pkg" ]; then
  scripts/setup.sh
  scripts/build.sh
fi
# (lh) runs npm's Lighthouse, kept under .tools.
if [[ " $SCENARIOS " == *" lh "* ]] && [ ! -x .tools/node_modules/.bin/lighthouse ]; then
  npm install --silent --no-audit --no-fund --prefix .tools lighthouse@12.8.2
fi
# (g) and (m) load pages with wrk, a Debian package.
if [[ " $SCENARIOS " == *" g "* || " $SCENARIOS " == *" m "* ]] && ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
# LOADGEN=path uses a load generator built earlier.
if [ -z "${LOADGEN:-}" ]; then
  cargo build --release -p loadgen -q
  LOADGEN=target/release/loadgen
fi
PORT=$((20000 + RANDOM % 12000))   # below the ephemeral range (32768+)
URL=https://127.0.0.1:$PORT

# Raised limits: one machine plays thousands of devices from one address.
# By environment, which older builds (BASELINE) ignore rather than refuse.
export CHAT_NEWCOMER_BURST=1000000 CHAT_NEWCOMER_REFILL_MS=1
export CHAT_NEW_IDENTITY_BURST=1000000 CHAT_NEW_IDENTITY_REFILL_SECS=1 CHAT_MAX_TCP_PER_IP=1000000
# Rooms are limited per address: scenario (q) creates its rooms from
# addresses of their own, through loopback as a trusted proxy.
export CHAT_TRUSTED_PROXIES=127.0.0.1
FLAGS=(--message-burst 1000000 --message-refill-ms 1 --connect-burst 1000000
       --max-conns-per-ip 1000000 --max-conns-per-device 1000000)

start_chat() { # binary [site root]
  local data; data=$(mktemp -d)
  "$1" --addr "127.0.0.1:$PORT" --data-dir "$data" --cert "$data/cert.pem" --key "$data/key.pem" \
    --site-root "${2:-$SITE}" "${FLAGS[@]}" >"$OUT/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -skf -o /dev/null "$URL/healthz" && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}

start_seed() {
  [ -x "$SEED_WORK/venv-gevent/bin/gunicorn" ] || bash "$SEED_DIR/setup.sh" "$SEED_WORK" >/dev/null
  local line
  line=$(GUNICORN_EXTRA="--worker-connections 20000" bash "$SEED_DIR/serve.sh" gevent "$SEED_WORK" "$PORT")
  PID=$(sed -n 's/.*pid=\([0-9]*\) .*/\1/p' <<<"$line")
  PIDS=$(sed -n 's/.*pids=\([0-9,]*\).*/\1/p' <<<"$line")
}

stop() { # leader pid
  kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  sleep 0.5
}

pid_args() { # comma-separated pids -> --server-pid flags
  local p; for p in ${1//,/ }; do printf -- '--server-pid %s ' "$p"; done
}

# One scenario against the server now running; JSON to $OUT/<who>-<name>.json.
scenario() { # who protocol pids name loadgen-args...
  local who=$1 proto=$2 pids=$3 name=$4; shift 4
  echo "   $who $name: $*" >&2
  # shellcheck disable=SC2046
  "$LOADGEN" "$@" --url "$URL" --protocol "$proto" $(pid_args "$pids") \
    >"$OUT/$who-$name.json" 2>>"$OUT/loadgen.log" || echo '{"error":"run failed"}' >"$OUT/$who-$name.json"
}

has() { [[ " $SCENARIOS " == *" $1 "* ]]; }

run_all() { # who protocol pids
  local who=$1 proto=$2 pids=$3 echo=()
  [ "$proto" = seed ] && echo=(--complete-on-echo)
  # Memory first, on the fresh server, before traffic has grown its heap.
  if has d; then
    scenario "$who" "$proto" "$pids" d1000 idle --clients 1000 --connect-concurrency 100
    scenario "$who" "$proto" "$pids" d10000 idle --clients 10000 --connect-concurrency 200 --hold 8
  fi
  # One message at a time with nothing else going on: send to receipt.
  has l && scenario "$who" "$proto" "$pids" l run --clients 1 --senders 1 --rate 2 --duration 10 --warmup 1
  has a && scenario "$who" "$proto" "$pids" a run --clients 100 --senders 10 --in-flight 1 --duration 20 "${echo[@]}"
  has b && scenario "$who" "$proto" "$pids" b run --clients 1000 --senders 10 --rate 100 --duration 20
  if has c; then
    local rate best=0
    for rate in 100 200 300 400 500 600 800 1000 1200; do
      scenario "$who" "$proto" "$pids" "c$rate" run --clients 1000 --senders 20 --rate "$rate" --duration 8 --warmup 2
      if python3 scripts/bench_table.py --step-ok "$OUT/$who-c$rate.json" "$rate"; then best=$rate; else break; fi
    done
    echo "{\"best_rate\": $best}" >"$OUT/$who-c.json"
  fi
  # Fan-out latency is the last of 10,000 receivers: the load generator
  # reads with two threads so its own queue is not what is measured.
  has e && scenario "$who" "$proto" "$pids" e run --clients 10000 --senders 1 --rate 2 --duration 10 --connect-concurrency 200 --threads 2
  if has f && [ "$proto" = chat ]; then
    scenario "$who" "$proto" "$pids" f run --clients 50 --senders 50 --in-flight 8 --duration 20
  fi
  # A crowd of named people arriving in one room at once (a restart
  # reconnecting everyone), talking a little: the room lists they cause.
  if has p && [ "$proto" = chat ]; then
    scenario "$who" "$proto" "$pids" p run --clients 1000 --senders 1000 --rate 20 --duration 5 --warmup 1 --drain 3
  fi
  # A room of 10,000 named people: they arrive within 30 s, each reading
  # from the moment it is in, then one message to all, twice a second.
  if has r && [ "$proto" = chat ]; then
    scenario "$who" "$proto" "$pids" r run --clients 10000 --senders 1 --rate 2 --duration 10 --warmup 2 --drain 3 \
      --all-named --join-secs 30 --connect-concurrency 400 --threads 2
  fi
  # (q) 10,000 clients over 100 rooms of 100, each showing its own; 10
  # senders in 10 rooms, 20 msgs/s in all: what one message costs when it
  # reaches its room. Private rooms (routed to their members alone, with
  # 1,000 direct conversations besides) where the build has them; the
  # same rooms open on every build. Clients arrive over 10 s and read
  # from the moment they are in, as a browser does; the senders start
  # once the last is in and the window opens 8 s later: a crowd's TLS
  # handshakes and first pages are not what one message costs. (q1) is
  # the yardstick: one room of 100 alone, the same senders and rate, so
  # each message reaches as many people.
  if has q && [ "$proto" = chat ]; then
    local rooms=(run --rate 20 --duration 10 --warmup 8 --drain 3
                 --join-secs 10 --connect-concurrency 200 --threads 2)
    scenario "$who" "$proto" "$pids" q1 "${rooms[@]}" --senders 10 --clients 100 --rooms 1
    [ "$who" = chat ] && scenario "$who" "$proto" "$pids" q "${rooms[@]}" --senders 10 --clients 10000 --rooms 100 --private --directs 1000
    # (q0) the same crowd holding its sockets, nobody sending: what the
    # 10,000 cost with no message at all (pings, timers).
    [ "$who" = chat ] && scenario "$who" "$proto" "$pids" q0 "${rooms[@]}" --clients 10000 --rooms 100 --private --directs 1000 --senders 0
    scenario "$who" "$proto" "$pids" qo "${rooms[@]}" --senders 10 --clients 10000 --rooms 100
  fi
  if has h && [ "$proto" = chat ]; then
    echo "   $who h: phone, slow 4G, 4x CPU, cold cache" >&2
    (cd end2end && node bench/hydration.mjs "$URL" 5) >"$OUT/$who-h.json" 2>>"$OUT/loadgen.log" \
      || echo '{"error":"run failed"}' >"$OUT/$who-h.json"
  fi
  # Last: it writes 50 messages into the default room.
  if has lh && [ "$proto" = chat ]; then
    echo "   $who lh: Lighthouse, a room of 50 messages, mobile and desktop" >&2
    (cd end2end && node bench/lighthouse.mjs "$URL" 3) >"$OUT/$who-lh.json" 2>>"$OUT/loadgen.log" \
      || echo '{"error":"run failed"}' >"$OUT/$who-lh.json"
  fi
  return 0
}

# (n) The same load on SQLite (one node), PostgreSQL with one node and
# with two (clients split between them): a throwaway cluster, a fresh
# database each time, PostgreSQL's CPU and its sessions' wait events.
N_ARGS=(run --clients 1000 --senders 10 --in-flight 1 --duration 15 --warmup 2)
pg_ticks() { # CPU ticks of every postgres process
  local total=0 p
  for p in $(pgrep -u postgres postgres || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
n_on_postgres() { # name nodes
  local name=$1 nodes=$2 db url pids="" urls=() i sampler t0 t1 s0 s1
  db=bench_$(date +%s%N)
  psql "$CHAT_TEST_PG" -qc "CREATE DATABASE $db"
  url=${CHAT_TEST_PG/\/postgres\?//$db?}
  for i in $(seq 0 $((nodes - 1))); do
    local data; data=$(mktemp -d)
    "$SERVER" --addr "127.0.0.1:$((PORT + i))" --data-dir "$data" --cert "$data/cert.pem" --key "$data/key.pem" \
      --site-root "$SITE" --database-url "$url" "${FLAGS[@]}" >"$OUT/server-$name-$i.log" 2>&1 &
    pids="$pids${pids:+,}$!"
    urls+=(--url "https://127.0.0.1:$((PORT + i))")
    for _ in $(seq 100); do curl -skf -o /dev/null "https://127.0.0.1:$((PORT + i))/healthz" && break; sleep 0.1; done
  done
  # Wait events of the chat's sessions, sampled every 100 ms.
  ( while true; do
      psql "$url" -Atc "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, 'running')
                        FROM pg_stat_activity WHERE datname = current_database()
                        AND state = 'active' AND pid <> pg_backend_pid()" 2>/dev/null
      sleep 0.1
    done ) >"$OUT/n-$name-waits.txt" &
  sampler=$!
  t0=$(date +%s.%N); s0=$(pg_ticks)
  echo "   $name: ${N_ARGS[*]} on $nodes node(s)" >&2
  # shellcheck disable=SC2046
  "$LOADGEN" "${N_ARGS[@]}" "${urls[@]}" $(pid_args "$pids") >"$OUT/n-$name.json" 2>>"$OUT/loadgen.log" \
    || echo '{"error":"run failed"}' >"$OUT/n-$name.json"
  t1=$(date +%s.%N); s1=$(pg_ticks)
  kill "$sampler" 2>/dev/null || true
  python3 - "$OUT/n-$name.json" "$OUT/n-$name-waits.txt" "$s0" "$s1" "$t0" "$t1" <<'PY'
import json, os, sys, collections
path, waits, s0, s1, t0, t1 = sys.argv[1:]
r = json.load(open(path))
ticks = os.sysconf("SC_CLK_TCK")
r["postgres_cores"] = (int(s1) - int(s0)) / ticks / (float(t1) - float(t0))
c = collections.Counter(l.strip() for l in open(waits) if l.strip())
r["postgres_waits"] = dict(c.most_common(6))
json.dump(r, open(path, "w"), indent=1)
PY
  local p; for p in ${pids//,/ }; do stop "$p"; done
}
if has n; then
  echo "== (n) SQLite, PostgreSQL 1 node, PostgreSQL 2 nodes" >&2
  start_chat "$SERVER"
  scenario n chat "$PID" sqlite "${N_ARGS[@]}"
  stop "$PID"
  started_pg=0
  if [ -z "${CHAT_TEST_PG:-}" ]; then eval "$(scripts/pg.sh start)"; started_pg=1; fi
  n_on_postgres pg1 1
  n_on_postgres pg2 2
  [ "$started_pg" = 1 ] && scripts/pg.sh stop "$CHAT_TEST_PGDATA"
  SCENARIOS=${SCENARIOS// n/}; SCENARIOS=${SCENARIOS//n /}; [ "$SCENARIOS" = n ] && SCENARIOS=""
fi

# (m) What the page path costs on a long history, beside an empty chat in
# the same run: 1,000,000 messages over 50 rooms and 1,000 identities,
# written straight into the store (`server seed-history`), on SQLite and
# on PostgreSQL. Room pages (with the room list and its unread counts) for
# a viewer named after the history, one with read marks, one 10,000
# messages behind, one named before it all without marks; and a search.
# Beside 2,500 messages too (a full page in every room): the million's
# pages show the same 50 messages, so a difference is the history's.
history_case() { # engine messages
  local engine=$1 messages=$2 data db_args=() url
  data=$(mktemp -d)
  if [ "$engine" = postgres ]; then
    local name; name="hist_$(date +%s%N)"
    psql "$CHAT_TEST_PG" -qc "CREATE DATABASE $name" >/dev/null
    url=${CHAT_TEST_PG/\/postgres\?/\/$name?}
    db_args=(--database-url "$url")
  fi
  "$SERVER" --data-dir "$data" "${db_args[@]}" seed-history --messages "$messages" >>"$OUT/server.log" 2>&1
  "$SERVER" --addr "127.0.0.1:$PORT" --data-dir "$data" "${db_args[@]}" --cert "$data/cert.pem" \
    --key "$data/key.pem" --site-root "$SITE" "${FLAGS[@]}" >"$OUT/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -skf -o /dev/null "$URL/healthz" && break; sleep 0.1; done
  local fresh; fresh=$(python3 -c 'import uuid; print(uuid.uuid4())')
  curl -sk -o /dev/null -H "cookie: device_id=$fresh" --data 'name=Fresh' "$URL/api/set_name"
  local out="$OUT/m-$engine-$messages.json" first=1
  echo "{" >"$out"
  local label device
  for label in fresh read behind unmarked; do
    case $label in
      fresh) device=$fresh ;;
      read) device=00000000-0000-4000-8000-000000000001 ;;
      behind) device=00000000-0000-4000-8000-000000000002 ;;
      unmarked) device=00000000-0000-4000-8000-000000000003 ;;
    esac
    local rps; rps=$(wrk -t2 -c16 -d5s -H "cookie: device_id=$device" -H 'accept-encoding: br' \
      "$URL/r/history-1" 2>/dev/null | sed -n 's/^Requests\/sec: *//p')
    [ $first = 1 ] || echo "," >>"$out"; first=0
    echo "\"page_$label\": ${rps:-0}" >>"$out"
  done
  # Searches as the seeded people (each device has its own search rate
  # limit, which one device alone would measure instead); only answered
  # searches count.
  cat >"$OUT/search.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/api/search", {
    ["content-type"] = "application/x-www-form-urlencoded",
    ["cookie"] = string.format("device_id=00000000-0000-4000-8000-%012d", n % 1000 + 1),
  }, "query=deploy")
end
LUA
  local sout srps errs
  sout=$(wrk -t2 -c16 -d5s -s "$OUT/search.lua" "$URL/api/search" 2>/dev/null)
  srps=$(sed -n 's/^Requests\/sec: *//p' <<<"$sout")
  errs=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' <<<"$sout")
  srps=$(python3 -c "import sys; r, e = float(sys.argv[1] or 0), int(sys.argv[2] or 0); print(max(0.0, r - e / 5))" "${srps:-0}" "${errs:-0}")
  echo ", \"search\": ${srps:-0}, \"search_refused\": ${errs:-0}}" >>"$out"
  stop "$PID"
}
if has m; then
  echo "== (m) the page path on 1,000,000 messages beside an empty chat" >&2
  started_pg=0
  if [ -z "${CHAT_TEST_PG:-}" ]; then eval "$(scripts/pg.sh start)"; started_pg=1; fi
  for engine in sqlite postgres; do
    # 2,500: a full page in each room, so the million differs in history alone.
    for messages in 0 2500 1000000; do history_case "$engine" "$messages"; done
  done
  [ "$started_pg" = 1 ] && scripts/pg.sh stop "$CHAT_TEST_PGDATA"
  SCENARIOS=${SCENARIOS// m/}; SCENARIOS=${SCENARIOS//m /}; [ "$SCENARIOS" = m ] && SCENARIOS=""
fi

# (g) The room page as fast as it can be served: a room of 50 messages,
# a named viewer's cookie, brotli accepted, HTTPS keep-alive (wrk, one
# thread, 16 connections, on the same 2 cores). Pages/s and the server's
# CPU per page (from /proc), this build beside BASELINE and the seed's
# page in the same run.
cpu_ticks() { # comma-separated pids: user + system ticks, summed
  local p sum=0; for p in ${1//,/ }; do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$sum"
}
page_case() { # who binary site
  local who=$1 bin=$2 site=$3 data; data=$(mktemp -d)
  "$SERVER" --data-dir "$data" seed-history --messages 50 --rooms 1 >>"$OUT/server.log" 2>&1
  "$bin" --addr "127.0.0.1:$PORT" --data-dir "$data" --cert "$data/cert.pem" --key "$data/key.pem" \
    --site-root "$site" "${FLAGS[@]}" >"$OUT/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -skf -o /dev/null "$URL/healthz" && break; sleep 0.1; done
  page_wrk "$who" "$PID" "$URL/r/history-1" -H "cookie: device_id=00000000-0000-4000-8000-000000000001"
  stop "$PID"
}
page_wrk() { # who pids url wrk-args...
  local who=$1 pid=$2 url=$3; shift 3
  local bytes; bytes=$(curl -sk -H 'accept-encoding: br' "$@" -o /dev/null -w '%{size_download}' "$url")
  wrk -t1 -c16 -d3s -H 'accept-encoding: br' "$@" "$url" >/dev/null 2>&1 # warm-up
  local t0 t1 out; t0=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c16 -d10s -H 'accept-encoding: br' "$@" "$url" 2>/dev/null)
  t1=$(cpu_ticks "$pid")
  python3 - "$OUT/$who-g.json" "$t0" "$t1" "$bytes" "$(sed -n 's/^Requests\/sec: *//p' <<<"$out")" \
    "$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")" <<'PY'
import json, os, sys
path, t0, t1, size, rps, n = sys.argv[1:7]
tick = os.sysconf("SC_CLK_TCK")
cpu = (int(t1) - int(t0)) / tick
n = int(n or 0)
json.dump({"pages_per_s": float(rps or 0), "requests": n, "server_cpu_s": cpu,
           "server_cpu_us_per_page": cpu / n * 1e6 if n else None, "page_bytes_br": int(size or 0)},
          open(path, "w"))
PY
}
if has g; then
  echo "== (g) the room page, 50 messages" >&2
  page_case chat "$SERVER" "$SITE"
  [ -n "${BASELINE:-}" ] && page_case baseline "$BASELINE" "${BASELINE_SITE:-$SITE}"
  if [ "$SEED" = 1 ] && [ -d "$SEED_DIR" ]; then
    # The seed's page is its template; its history comes from /get_messages.
    start_seed; page_wrk seed "$PIDS" "$URL/"; stop "$PID"
  fi
  SCENARIOS=${SCENARIOS// g/}; SCENARIOS=${SCENARIOS//g /}; [ "$SCENARIOS" = g ] && SCENARIOS=""
fi

echo "== this build" >&2
if [ -n "$SCENARIOS" ]; then
  start_chat "$SERVER"; run_all chat chat "$PID"; stop "$PID"
fi
if [ -n "${BASELINE:-}" ] && [ -n "$SCENARIOS" ]; then
  echo "== baseline $BASELINE" >&2
  start_chat "$BASELINE" "${BASELINE_SITE:-$SITE}"; run_all baseline chat "$PID"; stop "$PID"
fi
if [ "$SEED" = 1 ] && [ -d "$SEED_DIR" ] && [ -n "$SCENARIOS" ]; then
  echo "== seed (gevent)" >&2
  start_seed; run_all seed seed "$PIDS"; stop "$PID"
fi
python3 scripts/bench_table.py "$OUT" | tee "$OUT/table.md"
echo "results in $OUT" >&2
