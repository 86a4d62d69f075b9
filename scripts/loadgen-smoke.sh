#!/usr/bin/env bash
# A few clients for a few seconds against a fresh release server, so the
# load generator and the protocol it speaks never drift apart. Fails if
# anything is lost, duplicated or reordered, or nothing got through.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release -q -p loadgen
data=$(mktemp -d)
port=$((20000 + RANDOM % 12000))   # below the ephemeral range (32768+)
target/release/server --addr "127.0.0.1:$port" --data-dir "$data" --cert "$data/cert.pem" \
  --key "$data/key.pem" --site-root target/site --message-burst 100000 --newcomer-burst 100000 >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -skf -o /dev/null "https://127.0.0.1:$port/healthz" && break; sleep 0.1; done
target/release/loadgen run --url "https://127.0.0.1:$port" --clients 8 --senders 3 --rate 30 \
  --duration 3 --warmup 1 --drain 2 --server-pid "$pid" >"$data/report.json"
python3 - "$data/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
problems = [k for k in ("lost", "duplicated", "reordered", "id_order_violations", "errors", "connect_failures") if r[k]]
if r["connected"] != 8 or r["deliveries_in_window"] == 0 or problems:
    sys.exit(f"load generator smoke run failed: {problems or r}")
print(f"loadgen smoke: {r['deliveries_in_window']} deliveries, p99 {r['latency_ms']['p99']} ms, nothing lost")
PY
