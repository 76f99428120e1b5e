#!/usr/bin/env bash
# Build the minikube CLI from the k8s.io/minikube Go module.
#
# `go install k8s.io/minikube/cmd/minikube@vX` is refused because minikube's go.mod carries
# replace directives (forks of docker/machine and two drivers). A wrapper module that requires
# k8s.io/minikube and repeats those replaces, read from the module's own go.mod, builds the same
# program. Its go.mod and go.sum are committed (module/); KIT_GO_MODULES_REFRESH=1 writes them anew.
#
# Inputs:  KIT_VERSION_MINIKUBE (e.g. 1.37.0), KIT_OUT (outputs: bin/minikube),
#          KIT_CACHE (Go module + build caches: a rerun is quick).
set -euo pipefail

: "${KIT_OUT:?}" "${KIT_CACHE:?}"
VERSION="${KIT_VERSION_MINIKUBE:?}"; VERSION="${VERSION#v}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

export GOMODCACHE="$KIT_CACHE/gomod" GOCACHE="$KIT_CACHE/gobuild" GOPATH="$KIT_CACHE/gopath"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOTOOLCHAIN=local
# Every module is checked against the committed module/go.sum (-mod=readonly: the build cannot
# add to it). A refresh checks new entries against sum.golang.org through the proxy, which does
# not serve k8s.io/minikube itself (404): that one module is hashed from the proxy's zip alone.
export GOFLAGS="-mod=readonly -buildvcs=false" GONOSUMDB=k8s.io/minikube
export CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}"
recipe_dir="$(pwd)"

wrap="$KIT_CACHE/wrapper-$VERSION"
rm -rf "$wrap"; mkdir -p "$wrap" "$KIT_OUT/bin"
cd "$wrap"
if [ "${KIT_GO_MODULES_REFRESH:-}" = 1 ]; then
  export GOFLAGS="-mod=mod -buildvcs=false"
  "$GO" mod init wasm-lab.local/kit/minikube
  "$GO" mod edit -go=1.24.0 -require="k8s.io/minikube@v$VERSION"
  "$GO" mod download -json "k8s.io/minikube@v$VERSION" > /dev/null
  modfile="$GOMODCACHE/cache/download/k8s.io/minikube/@v/v$VERSION.mod"
  # Single-line and block replace directives alike: "old [ver] => new ver".
  awk '/^replace \($/ {blk=1; next} blk && /^\)/ {blk=0; next}
       blk && $2 == "=>" {print $1 "=" $3 "@" $4}
       /^replace / && $3 == "=>" {print $2 "=" $4 "@" $5}' "$modfile" |
    while read -r r; do "$GO" mod edit -replace="$r"; done
  "$GO" get "k8s.io/minikube/cmd/minikube@v$VERSION"
  mkdir -p "$recipe_dir/module" && cp go.mod go.sum "$recipe_dir/module/"
  export GOFLAGS="-mod=readonly -buildvcs=false"
fi
cp "$recipe_dir/module/go.mod" "$recipe_dir/module/go.sum" .
grep -q "k8s.io/minikube v$VERSION\$" go.mod || {
  echo "module/go.mod is not for minikube v$VERSION: build once with KIT_GO_MODULES_REFRESH=1 and commit module/" >&2; exit 1; }

echo "== go build minikube v$VERSION ($(date -u +%T))"
t0=$(date +%s)
"$GO" build -trimpath \
  -ldflags "-s -w -X k8s.io/minikube/pkg/version.version=v$VERSION -X k8s.io/minikube/pkg/version.gitCommitID=wasm-lab-kit-from-go-modules \
            -X k8s.io/minikube/pkg/version.isoVersion=v$VERSION -X k8s.io/minikube/pkg/version.storageProvisionerVersion=v5" \
  -o "$KIT_OUT/bin/minikube" k8s.io/minikube/cmd/minikube
echo "== minikube built in $(( $(date +%s) - t0 ))s"
"$KIT_OUT/bin/minikube" version
echo "v$VERSION" > "$KIT_OUT/version"
