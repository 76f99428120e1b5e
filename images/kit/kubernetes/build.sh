#!/usr/bin/env bash
# Build the Kubernetes binaries the kit's node image needs, from Go modules only.
#
# k8s.io/kubernetes is not meant to be used as a dependency: its go.mod requires its staging
# modules (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and maps them to ./staging with replace
# directives, which Go ignores in a dependency. So we write a small wrapper module that requires
# k8s.io/kubernetes and replaces every staging module with its published v0.<minor>.<patch>.
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
# sum.golang.org is not reachable in the kit's world; module zips still get hashed into go.sum.
export GOSUMDB=off GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}"

wrap="$KIT_CACHE/wrapper-$K8S"
mkdir -p "$wrap" "$KIT_OUT/bin"
cd "$wrap"
if [ ! -f go.mod ]; then
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
fi

cmds="kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"
pkgs=""; for c in $cmds; do pkgs="$pkgs k8s.io/kubernetes/cmd/$c@v$K8S"; done
# Pin the version on every package: a bare `go get pkg` would upgrade to the newest release.
# This records go.sum entries for everything the commands import.
"$GO" get $pkgs
grep -q "k8s.io/kubernetes v$K8S\$" go.mod || { echo "go.mod does not pin k8s.io/kubernetes v$K8S" >&2; exit 1; }

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
  if [ ! -f "$cwrap/go.mod" ]; then
    rm -rf "$cwrap"; mkdir -p "$cwrap"
    (cd "$cwrap" && "$GO" mod init wasm-lab.local/kit/crictl && "$GO" mod edit -go=1.24.1 -require="sigs.k8s.io/cri-tools@v$CRI_TOOLS")
  fi
  (cd "$cwrap" && "$GO" build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v$CRI_TOOLS" \
    -o "$KIT_OUT/bin/crictl" sigs.k8s.io/cri-tools/cmd/crictl)
  "$KIT_OUT/bin/crictl" --version
fi

"$KIT_OUT/bin/kubeadm" version -o short
echo "v$K8S" > "$KIT_OUT/version"
ls -l "$KIT_OUT/bin"
