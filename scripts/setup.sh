#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there.
# Safe to re-run. Usage: scripts/setup.sh [--browser] [--test]
#   --browser  Chromium, WebKitGTK, Firefox ESR and the npm packages
#              that drive them (browser tests)
#   --test     what the other tests need: pebble (the ACME test server)
#              and cargo-deb (the Debian package)
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
CARGO_DEB_VERSION=3.8.0   # 0.3.11's lockfile needs rustc 1.96
BINARYEN_VERSION=132.0.0
WASM_BINDGEN_VERSION=0.2.130 # must match wasm-bindgen in Cargo.toml
TOOLS="$PWD/.tools"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
browser= tests=
for arg in "$@"; do
  case "$arg" in
    --browser) browser=1 ;;
    --test) tests=1 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

rustup target add wasm32-unknown-unknown >/dev/null
rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  echo "== installing cargo-leptos $CARGO_LEPTOS_VERSION (compiles from source, several minutes)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

# cargo-leptos runs the wasm-bindgen CLI and would download it from GitHub.
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  echo "== installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lockfile pins webpki-roots 1.0.11, which the registry
  # no longer offers (yanked), so cargo resolves a compatible set instead.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# cargo-leptos would download wasm-opt from GitHub, which is unreachable;
# the npm package ships the binary and cargo-leptos takes it from PATH.
if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ]; then
  echo "== installing wasm-opt (binaryen $BINARYEN_VERSION from npm)"
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION"
fi

if [ -n "$tests" ]; then
  if [ ! -x /usr/bin/pebble ]; then
    echo "== installing pebble (Debian package: the ACME test server)"
    apt_install pebble
  fi
  if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    echo "== installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
  fi
fi

if [ -n "$browser" ]; then
  if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium (Debian package)"
    apt_install chromium
  fi
  # The other engines (end2end/engines): WebKitGTK's MiniBrowser driven by
  # WebKitWebDriver under Xvfb, and Firefox ESR over WebDriver BiDi.
  if [ ! -x /usr/bin/WebKitWebDriver ] || [ ! -x /usr/bin/Xvfb ] || [ ! -x /usr/bin/firefox-esr ]; then
    echo "== installing webkit2gtk-driver, xvfb and firefox-esr (Debian packages)"
    apt_install webkit2gtk-driver xvfb firefox-esr
  fi
  (cd end2end && npm ci --silent --no-audit --no-fund)
fi
