#!/usr/bin/env bash
# Scenario (f) of scripts/bench.sh (50 senders, 8 messages in flight each)
# with and without the FTS5 prefix index (migration 0007), same binary,
# same run: what search-as-you-type costs the writer. Needs a release
# build (scripts/build.sh) and loadgen (cargo build --release -p loadgen).
set -u
cd /work/main
BIN=target/release/server; LG=target/release/loadgen; PORT=18443; URL=https://127.0.0.1:$PORT
export CHAT_NEWCOMER_BURST=1000000 CHAT_NEWCOMER_REFILL_MS=1
FLAGS=(--message-burst 1000000 --message-refill-ms 1 --connect-burst 1000000 --max-conns-per-ip 1000000 --max-conns-per-device 1000000)
start() { "$BIN" --addr 127.0.0.1:$PORT --data-dir "$1" --cert "$1/cert.pem" --key "$1/key.pem" --site-root target/site "${FLAGS[@]}" >"$1/log" 2>&1 & PID=$!; for _ in $(seq 100); do curl -skf -o /dev/null "$URL/healthz" && return; sleep 0.1; done; }
stop() { kill -TERM $PID; wait $PID 2>/dev/null; sleep 0.5; }
run() { $LG run --clients 50 --senders 50 --in-flight 8 --duration 20 --url "$URL" --server-pid $PID > "$2" 2>/dev/null; }
for round in 1 2; do
A=$(mktemp -d); start "$A"; run x /tmp/f-prefix-$round.json; stop
B=$(mktemp -d); start "$B"; stop
python3 - "$B/chat.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id',
  tokenize="unicode61 remove_diacritics 2 categories 'L* N* Co So Sk'");
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
""")
db.commit()
PY
start "$B"; run x /tmp/f-plain-$round.json; stop
done
for f in /tmp/f-*.json; do
  python3 -c "import json; d=json.load(open('$f')); print('$f', d['accepted_per_sec'], 'msgs/s, lost', d['lost'], ', p99', d['latency_ms'].get('p99'), 'ms')"
done
