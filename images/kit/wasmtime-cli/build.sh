#!/bin/sh
# kit `image` recipe program: builds the wasmtime binary (cached in $KIT_CACHE) and the small
# image $KIT_IMAGE holding it.
set -eu
: "${KIT_CACHE:?}" "${KIT_IMAGE:?}" "${KIT_IMAGE_DEBIAN_TRIXIE:?}"
here="$(cd "$(dirname "$0")" && pwd)"
sh "$here/build-binary.sh"
ctx="$KIT_CACHE/context"
rm -rf "$ctx"; mkdir -p "$ctx"
cp "$here/Dockerfile" "$here/collect-libs.sh" "$ctx/"
# cargo install keeps the symbols (67 MB); the image needs none of them.
strip -o "$ctx/wasmtime" "$KIT_CACHE/root/bin/wasmtime"
echo "wasmtime links against:"; ldd "$ctx/wasmtime"
docker build --build-arg BASE="$KIT_IMAGE_DEBIAN_TRIXIE" -t "$KIT_IMAGE" "$ctx"
docker run --rm "$KIT_IMAGE" wasmtime --version
