#!/bin/sh
# Builds wasm-lab-kit/rust-builder from the Dockerfile beside this script. A script rather than a
# plain `dockerfile:` recipe because cargo inside the build must trust the host's extra CA
# certificates (a TLS-intercepting proxy's, /usr/local/share/ca-certificates/*.crt), passed as the
# EXTRA_CA_CERTS build arg; on ordinary hosts that directory is empty and nothing is added.
set -eu
: "${KIT_IMAGE:?}" "${KIT_IMAGE_DEBIAN_SID:?}" "${KIT_VERSION_RUST_BUILDER:?}" "${KIT_VERSION_WASM_COMPONENT_LD:?}"
# (Exactly the concatenated files without the final newline: the value is part of the layer cache key.)
extra="$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)"
exec docker build \
  --build-arg "BASE=$KIT_IMAGE_DEBIAN_SID" \
  --build-arg "RUST_VERSION=$KIT_VERSION_RUST_BUILDER" \
  --build-arg "WASM_COMPONENT_LD_VERSION=$KIT_VERSION_WASM_COMPONENT_LD" \
  --build-arg "EXTRA_CA_CERTS=$extra" \
  -t "$KIT_IMAGE" .
