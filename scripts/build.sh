#!/usr/bin/env bash
# Release build of the server and the site (WASM, JS, CSS), then brotli
# and gzip copies of the static files for browsers that accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo leptos build --release
target/release/server --site-root target/site precompress
