#!/bin/sh
# Builds the wasmtime CLI from its crate on crates.io (`cargo install --locked`, so the crate's own
# Cargo.lock pins every dependency) into $WASMTIME_ROOT/bin/wasmtime.
# Runs on the build host: its glibc (bookworm, 2.36) is older than any node's (trixie, 2.41), so
# the binary runs everywhere the lab does. Cargo's registry and target dirs live under $KIT_CACHE,
# so an interrupted build resumes where it stopped.
set -eu
: "${KIT_CACHE:?}" "${KIT_VERSION_WASMTIME:?}"
WASMTIME_ROOT="${WASMTIME_ROOT:-$KIT_CACHE/root}"
export CARGO_HOME="$KIT_CACHE/cargo-home"
export CARGO_TARGET_DIR="$KIT_CACHE/target"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# Share rustup's toolchain with the host's: only the registry cache moves.
if [ -d "${HOME}/.cargo/bin" ]; then PATH="${HOME}/.cargo/bin:$PATH"; fi
mkdir -p "$CARGO_HOME" "$WASMTIME_ROOT"
cargo --version
have="$("$WASMTIME_ROOT/bin/wasmtime" --version 2>/dev/null || true)"
case "$have" in
  "wasmtime $KIT_VERSION_WASMTIME "*) echo "cached: $have";;
  *) cargo install wasmtime-cli --version "=$KIT_VERSION_WASMTIME" --locked \
       --root "$WASMTIME_ROOT" --profile release --force;;
esac
"$WASMTIME_ROOT/bin/wasmtime" --version
