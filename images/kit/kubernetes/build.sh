#!/usr/bin/env bash
# Build the Kubernetes binaries the kit's node image needs, from Go modules only.
#
# k8s.io/kubernetes is not meant to be used as a dependency: its go.mod requires its staging
# modules (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and maps them to ./staging with replace
# directives, which Go ignores in a dependency. So a small wrapper module requires
# k8s.io/kubernetes and replaces every staging module with its published v0.<minor>.<patch>.
# Its go.mod and go.sum are committed (module/); KIT_GO_MODULES_REFRESH=1 writes them anew.
#
# Inputs:  KIT_VERSION_KUBERNETES (e.g. 1.34.2), KIT_VERSION_CRI_TOOLS (optional),
#          KIT_OUT (outputs: bin/*), KIT_CACHE (Go module + build caches: a rerun is quick).
set -euo pipefail

: "${KIT_OUT:?}" "${KIT_CACHE:?}"
K8S="${KIT_VERSION_KUBERNETES:?}"; K8S="${K8S#v}"
CRI_TOOLS="${KIT_VERSION_CRI_TOOLS:-}"; CRI_TOOLS="${CRI_TOOLS#v}"
STAGING_VERSION="v0.${K8S#*.}"           # 1.34.2 -> v0.34.2
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

export GOMODCACHE="$KIT_CACHE/gomod" GOCACHE="$KIT_CACHE/gobuild" GOPATH="$KIT_CACHE/gopath"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOTOOLCHAIN=local
# Every module is checked against the committed go.sum (module/, module-crictl/; -mod=readonly:
# the build cannot add to it); a refresh checks new entries against sum.golang.org (through the proxy).
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}"
recipe_dir="$(pwd)"
mkdir -p "$KIT_OUT/bin"

cmds="kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"
wrap="$KIT_CACHE/wrapper-$K8S"
rm -rf "$wrap"; mkdir -p "$wrap"
cd "$wrap"
if [ "${KIT_GO_MODULES_REFRESH:-}" = 1 ]; then
  export GOFLAGS="-mod=mod -buildvcs=false"
  "$GO" mod init wasm-lab.local/kit/kubernetes
  # Same language version and GODEBUG defaults as upstream's own go.mod.
  "$GO" mod edit -go=1.24.0
  printf '\ngodebug default=go1.24\n' >> go.mod
  "$GO" mod edit -require="k8s.io/kubernetes@v$K8S"
  # The staging modules are the replace directives of k8s.io/kubernetes's go.mod that point at
  # ./staging; read that list from the module's go.mod rather than keeping a copy here.
  "$GO" mod download -json "k8s.io/kubernetes@v$K8S" > /dev/null
  modfile="$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/v$K8S.mod"
  staging=$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$modfile")
  [ -n "$staging" ] || { echo "no staging modules found in $modfile" >&2; exit 1; }
  for m in $staging; do "$GO" mod edit -replace="$m=$m@$STAGING_VERSION"; done
  # Pin the version on every package: a bare `go get pkg` would upgrade to the newest release.
  # This records go.sum entries for everything the commands import.
  pkgs=""; for c in $cmds; do pkgs="$pkgs k8s.io/kubernetes/cmd/$c@v$K8S"; done
  "$GO" get $pkgs
  mkdir -p "$recipe_dir/module" && cp go.mod go.sum "$recipe_dir/module/"
  export GOFLAGS="-mod=readonly -buildvcs=false"
fi
cp "$recipe_dir/module/go.mod" "$recipe_dir/module/go.sum" .
grep -q "k8s.io/kubernetes v$K8S\$" go.mod || {
  echo "module/go.mod is not for Kubernetes v$K8S: build once with KIT_GO_MODULES_REFRESH=1 and commit module/" >&2; exit 1; }

# What `kubeadm version` / `kubelet --version` report; kubeadm refuses a v0.0.0 build.
minor="${K8S#*.}"; minor="${minor%%.*}"
build_date="${SOURCE_DATE_EPOCH:+$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)}"
build_date="${build_date:-1970-01-01T00:00:00Z}"
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $p.gitVersion=v$K8S -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ldflags="$ldflags -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
  ldflags="$ldflags -X $p.gitCommit=wasm-lab-kit-from-go-modules"
done

for c in $cmds; do
  echo "== go build $c ($(date -u +%T))"
  t0=$(date +%s)
  "$GO" build -trimpath -ldflags "$ldflags" -o "$KIT_OUT/bin/$c" "k8s.io/kubernetes/cmd/$c"
  echo "== $c built in $(( $(date +%s) - t0 ))s"
done

if [ -n "$CRI_TOOLS" ]; then
  # crictl: kind runs it on nodes (`kind load`, log export). `go install crictl@version` fails here:
  # it asks the proxy for the module's version list (deprecation check), which is not served for
  # sigs.k8s.io/cri-tools. A wrapper module requiring the exact version needs no list.
  echo "== go build crictl v$CRI_TOOLS"
  cwrap="$KIT_CACHE/wrapper-crictl-$CRI_TOOLS"
  rm -rf "$cwrap"; mkdir -p "$cwrap"
  if [ "${KIT_GO_MODULES_REFRESH:-}" = 1 ]; then
    (cd "$cwrap" && "$GO" mod init wasm-lab.local/kit/crictl && "$GO" mod edit -go=1.24.1 -require="sigs.k8s.io/cri-tools@v$CRI_TOOLS" &&
     GOFLAGS=-mod=mod "$GO" build -o /dev/null sigs.k8s.io/cri-tools/cmd/crictl && mkdir -p "$recipe_dir/module-crictl" && cp go.mod go.sum "$recipe_dir/module-crictl/")
  fi
  cp "$recipe_dir/module-crictl/go.mod" "$recipe_dir/module-crictl/go.sum" "$cwrap/"
  grep -q "sigs.k8s.io/cri-tools v$CRI_TOOLS\$" "$cwrap/go.mod" || {
    echo "module-crictl/go.mod is not for cri-tools v$CRI_TOOLS: build once with KIT_GO_MODULES_REFRESH=1" >&2; exit 1; }
  (cd "$cwrap" && "$GO" build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v$CRI_TOOLS" \
    -o "$KIT_OUT/bin/crictl" sigs.k8s.io/cri-tools/cmd/crictl)
  "$KIT_OUT/bin/crictl" --version
fi

"$KIT_OUT/bin/kubeadm" version -o short
echo "v$K8S" > "$KIT_OUT/version"
ls -l "$KIT_OUT/bin"
