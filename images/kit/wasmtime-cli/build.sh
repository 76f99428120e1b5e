#!/bin/sh
# kit `image` recipe program: the small image $KIT_IMAGE holding the wasmtime CLI that the shims
# recipe builds beside the wasmtime shim (one compile of wasmtime for both; stripped there), with
# the trixie libraries it links.
set -eu
: "${KIT_CACHE:?}" "${KIT_IMAGE:?}" "${KIT_IMAGE_DEBIAN_TRIXIE:?}" "${KIT_DIR_SHIMS:?}" "${KIT_VERSION_WASMTIME:?}"
here="$(cd "$(dirname "$0")" && pwd)"
ctx="$KIT_CACHE/context"
rm -rf "$ctx"; mkdir -p "$ctx"
cp "$here/Dockerfile" "$here/collect-libs.sh" "$ctx/"
cp "$KIT_DIR_SHIMS/bin/wasmtime" "$ctx/wasmtime"
docker build --build-arg BASE="$KIT_IMAGE_DEBIAN_TRIXIE" -t "$KIT_IMAGE" "$ctx"
docker run --rm "$KIT_IMAGE" wasmtime --version | grep -F "wasmtime $KIT_VERSION_WASMTIME"
