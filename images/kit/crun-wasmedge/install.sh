#!/bin/sh
# Installs crun with WasmEdge support into a Debian trixie node from the .debs beside this script
# (no network): verifies their checksums, `dpkg -i`s them, and checks that crun reports
# +WASM:wasmedge and that libwasmedge.so.0 resolves. Safe to run again.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/debs"
sha256sum -c --quiet SHA256SUMS
dpkg -i --force-confdef --force-confold ./*.deb >/dev/null
crun --version | grep -q '+WASM:wasmedge' || { echo "crun lacks +WASM:wasmedge" >&2; exit 1; }
ldconfig -p | grep -q 'libwasmedge.so.0 ' || { echo "libwasmedge.so.0 not found" >&2; exit 1; }
crun --version | head -1
