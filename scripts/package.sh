#!/usr/bin/env bash
# The Debian package (target/debian/chat_<version>_<arch>.deb) of the
# release build: the server, the built site, chat.service and
# /etc/chat/chat.env. Prints the package's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
if [ ! -x target/release/server ] || [ ! -f target/site/pkg/chat.wasm.br ]; then
  scripts/build.sh >&2
fi
# Only this package's files: no test or bench data slips in.
cargo deb -p server --no-build --output target/debian/ >&2
ls -t target/debian/chat_*.deb | head -1
