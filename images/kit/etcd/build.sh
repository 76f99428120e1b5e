#!/usr/bin/env bash
# Build the etcd image kubeadm runs as its local etcd: etcd and etcdctl from the Go modules
# go.etcd.io/etcd/{server,etcdctl}/v3 at $KIT_VERSION_ETCD, in an image FROM scratch.
#
# etcd's modules carry replace directives (./api, ./client/...) that `go install pkg@version`
# refuses, so a small wrapper module requires them instead; their requires already name the
# matching published versions of the sibling modules. The wrapper's go.mod and go.sum are
# committed (module/); KIT_GO_MODULES_REFRESH=1 writes them anew for a new version.
set -euo pipefail
recipe_dir="$(pwd)"
: "${KIT_IMAGE:?}" "${KIT_CACHE:?}"
V="${KIT_VERSION_ETCD:?}"; V="${V#v}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
export GOMODCACHE="$KIT_CACHE/gomod" GOCACHE="$KIT_CACHE/gobuild" GOPATH="$KIT_CACHE/gopath"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOTOOLCHAIN=local
# Every module is checked against the committed module/go.sum (-mod=readonly: the build cannot
# add to it); a refresh checks new entries against sum.golang.org, reached through the proxy.
export GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}"

wrap="$KIT_CACHE/wrapper-$V"
rm -rf "$wrap"; mkdir -p "$wrap"
if [ "${KIT_GO_MODULES_REFRESH:-}" = 1 ]; then
  (cd "$wrap" && "$GO" mod init wasm-lab.local/kit/etcd && "$GO" mod edit -go=1.23.0 &&
   GOFLAGS=-mod=mod "$GO" get "go.etcd.io/etcd/server/v3@v$V" "go.etcd.io/etcd/etcdctl/v3@v$V")
  mkdir -p "$recipe_dir/module" && cp "$wrap/go.mod" "$wrap/go.sum" "$recipe_dir/module/"
fi
cp "$recipe_dir/module/go.mod" "$recipe_dir/module/go.sum" "$wrap/"
grep -qE "go.etcd.io/etcd/server/v3 v$V( |\$)" "$wrap/go.mod" || {
  echo "module/go.mod is not for etcd v$V: build once with KIT_GO_MODULES_REFRESH=1 and commit module/" >&2; exit 1; }
cd "$wrap"

ctx="$KIT_CACHE/context"
rm -rf "$ctx"; mkdir -p "$ctx/out"
"$GO" build -trimpath -ldflags "-s -w" -o "$ctx/out/etcd" go.etcd.io/etcd/server/v3
"$GO" build -trimpath -ldflags "-s -w" -o "$ctx/out/etcdctl" go.etcd.io/etcd/etcdctl/v3
"$ctx/out/etcd" --version
cp "$recipe_dir/Dockerfile" "$ctx/Dockerfile"
docker build -q -t "$KIT_IMAGE" "$ctx"
