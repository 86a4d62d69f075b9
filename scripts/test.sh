#!/usr/bin/env bash
# Runs every check and test: format, lints, unit and server integration
# tests, the release build, and the browser tests in Chromium.
# Installs what it needs first (see scripts/setup.sh). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - started ))s, $(df -h --output=avail . | tail -1 | tr -d ' ') free)"; }
# A fresh clone builds once: incremental caches would only take disk.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

step "setup"
scripts/setup.sh --browser --test
source scripts/env.sh

step "format"
cargo fmt --all --check

step "layers: no import cycles among the crates' own modules"
python3 scripts/module-cycles.py server/src app/src

step "clippy: server, shared crate, load generator (ssr)"
cargo clippy -p server -p app -p loadgen --features app/ssr --all-targets -- -D warnings
step "clippy: browser crate (hydrate, wasm32)"
cargo clippy -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings

step "throwaway PostgreSQL 15 for the shared-mode tests"
eval "$(scripts/pg.sh start)"
trap 'scripts/pg.sh stop "$CHAT_TEST_PGDATA"' EXIT
echo "PostgreSQL at $CHAT_TEST_PG"

step "unit and server integration tests (SQLite, and PostgreSQL for the shared mode)"
cargo test -p server -p app -p loadgen --features app/ssr
if [ "${CI:-}" = true ]; then
  # Nothing later uses the debug build; a small CI disk needs the room.
  rm -rf target/debug
fi

step "release build (server + WASM)"
scripts/build.sh
wasm=target/site/pkg/chat.wasm
echo "release WASM: $(stat -c %s "$wasm") bytes raw, $(stat -c %s "$wasm.br") brotli, $(stat -c %s "$wasm.gz") gzip"

step "load generator smoke run"
scripts/loadgen-smoke.sh

step "browser tests (Playwright, Chromium)"
(cd end2end && npx playwright test)

step "browser tests in WebKitGTK and Firefox ESR"
(cd end2end && node engines/run.mjs)

step "Debian package: built, installed, started, restarted with its data"
scripts/deb-test.sh

step "all passed"
