#!/usr/bin/env bash
# Build the dynamic local-volume provisioner behind the node's default StorageClass:
# `go install` of github.com/rancher/local-path-provisioner at $KIT_VERSION_LOCAL_PATH_PROVISIONER,
# in an image FROM scratch. Its helper pods (mkdir/rm of volume directories) use the kit's
# trixie image; the manifest and scripts are the node recipe's (files/kind/manifests).
set -euo pipefail
: "${KIT_IMAGE:?}" "${KIT_CACHE:?}"
V="${KIT_VERSION_LOCAL_PATH_PROVISIONER:?}"; V="${V#v}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
export GOMODCACHE="$KIT_CACHE/gomod" GOCACHE="$KIT_CACHE/gobuild" GOPATH="$KIT_CACHE/gopath"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOTOOLCHAIN=local
# `go install pkg@version` builds with the module's own go.sum, and the module itself is checked
# against sum.golang.org (reached through the proxy).
export GOFLAGS="-buildvcs=false" CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}"
ctx="$KIT_CACHE/context"
rm -rf "$ctx"; mkdir -p "$ctx/out"
GOBIN="$ctx/out" "$GO" install -trimpath -ldflags "-s -w" "github.com/rancher/local-path-provisioner@v$V"
cp Dockerfile "$ctx/Dockerfile"
docker build -q -t "$KIT_IMAGE" "$ctx"
