#!/usr/bin/env bash
# Build podnet (src/, standard library only) and its image on netbase; leaves $KIT_IMAGE.
set -euo pipefail
: "${KIT_IMAGE:?}" "${KIT_CACHE:?}" "${KIT_IMAGE_NETBASE:?}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
export GOCACHE="$KIT_CACHE/gobuild" GOMODCACHE="$KIT_CACHE/gomod" GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false" CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}"
ctx="$KIT_CACHE/context"
rm -rf "$ctx"; mkdir -p "$ctx/out"
(cd src && "$GO" vet ./... && "$GO" test ./... && "$GO" build -trimpath -ldflags "-s -w" -o "$ctx/out/podnet" .)
cp Dockerfile "$ctx/Dockerfile"
docker build -q --build-arg "BASE=$KIT_IMAGE_NETBASE" -t "$KIT_IMAGE" "$ctx"
