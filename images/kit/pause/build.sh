#!/usr/bin/env bash
# Build wasm-lab's pause image: compile pause.c statically with the host's C compiler, then an
# image FROM scratch holding just that binary. Leaves the image tagged $KIT_IMAGE.
set -euo pipefail
: "${KIT_IMAGE:?}" "${KIT_CACHE:?}"
ctx="$KIT_CACHE/context"
rm -rf "$ctx"; mkdir -p "$ctx/out"
cc="${CC:-gcc}"
command -v "$cc" >/dev/null || { echo "pause: needs a C compiler ($cc); apt-get install gcc libc6-dev" >&2; exit 1; }
"$cc" -Os -static -Wall -Wextra -Werror -o "$ctx/out/pause" pause.c
strip "$ctx/out/pause"
cp Dockerfile "$ctx/Dockerfile"
docker build -q -t "$KIT_IMAGE" "$ctx"
ls -l "$ctx/out/pause"
