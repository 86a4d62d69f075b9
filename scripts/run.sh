#!/usr/bin/env bash
# Builds the release site and runs the chat over HTTPS on the embedded
# defaults. Extra arguments go to the server (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec target/release/server --site-root target/site "$@"
