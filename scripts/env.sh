# Sourced by the scripts: tools installed by setup.sh come first on PATH.
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
