#!/usr/bin/env bash
# Release build of the server and the site (WASM, JS, CSS), then brotli
# and gzip copies of the static files for browsers that accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# --split: the dialogs marked #[lazy] become WASM chunks of their own,
# fetched when first opened (app/src/components/dialogs.rs).
# A fresh pkg/: chunks of an earlier build must not join this release.
rm -rf target/site/pkg
cargo leptos build --release --split
target/release/server --site-root target/site precompress
