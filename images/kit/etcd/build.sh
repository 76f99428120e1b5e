#!/usr/bin/env bash
# Build the etcd image kubeadm runs as its local etcd: etcd and etcdctl from the Go modules
# go.etcd.io/etcd/{server,etcdctl}/v3 at $KIT_VERSION_ETCD, in an image FROM scratch.
#
# etcd's modules carry replace directives (./api, ./client/...) that `go install pkg@version`
# refuses, so a small wrapper module requires them instead; their requires already name the
# matching published versions of the sibling modules.
set -euo pipefail
recipe_dir="$(pwd)"
: "${KIT_IMAGE:?}" "${KIT_CACHE:?}"
V="${KIT_VERSION_ETCD:?}"; V="${V#v}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
export GOMODCACHE="$KIT_CACHE/gomod" GOCACHE="$KIT_CACHE/gobuild" GOPATH="$KIT_CACHE/gopath"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOTOOLCHAIN=local GOSUMDB=off
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}"

wrap="$KIT_CACHE/wrapper-$V"
if [ ! -f "$wrap/go.mod" ]; then
  rm -rf "$wrap"; mkdir -p "$wrap"
  (cd "$wrap" && "$GO" mod init wasm-lab.local/kit/etcd && "$GO" mod edit -go=1.23.0)
fi
cd "$wrap"
"$GO" get "go.etcd.io/etcd/server/v3@v$V" "go.etcd.io/etcd/etcdctl/v3@v$V"

ctx="$KIT_CACHE/context"
rm -rf "$ctx"; mkdir -p "$ctx/out"
"$GO" build -trimpath -ldflags "-s -w" -o "$ctx/out/etcd" go.etcd.io/etcd/server/v3
"$GO" build -trimpath -ldflags "-s -w" -o "$ctx/out/etcdctl" go.etcd.io/etcd/etcdctl/v3
"$ctx/out/etcd" --version
cp "$recipe_dir/Dockerfile" "$ctx/Dockerfile"
docker build -q -t "$KIT_IMAGE" "$ctx"
