#!/usr/bin/env bash
# Build the kit's kind node image, $KIT_IMAGE:
#   1. docker build the node (Dockerfile: trixie + systemd/containerd/CNI plugins from Debian,
#      the kit's Kubernetes binaries, the project's entrypoint, units and containerd config);
#   2. preload the control-plane, DNS, pause, podnet and storage images into containerd's k8s.io namespace
#      under the names kubeadm asks for, by running containerd once in a container of that image
#      and importing a `docker save` of the kit's images (content only, as kind's own builds do);
#   3. docker commit that container as $KIT_IMAGE with the node's entrypoint restored.
set -euo pipefail
: "${KIT_IMAGE:?}" "${KIT_CACHE:?}" "${KIT_DIR_KUBERNETES:?}" "${KIT_IMAGE_DEBIAN_TRIXIE:?}"
: "${KIT_IMAGE_KUBE_APISERVER:?}" "${KIT_IMAGE_KUBE_CONTROLLER_MANAGER:?}" "${KIT_IMAGE_KUBE_SCHEDULER:?}"
: "${KIT_IMAGE_KUBE_PROXY:?}" "${KIT_IMAGE_ETCD:?}" "${KIT_IMAGE_COREDNS:?}" "${KIT_IMAGE_PAUSE:?}"
: "${KIT_IMAGE_PODNET:?}" "${KIT_IMAGE_LOCAL_PATH_PROVISIONER:?}"
# Preloaded under their own names: the pod network, the storage provisioner and its helper.
extra=("$KIT_IMAGE_PODNET" "$KIT_IMAGE_LOCAL_PATH_PROVISIONER" "$KIT_IMAGE_DEBIAN_TRIXIE")
K8S="v${KIT_VERSION_KUBERNETES#v}"
stamp() { echo "== $(date -u +%T) $*"; }

# --- which image names kubeadm wants, and which kit image provides each ------------------------
kubeadm="$KIT_DIR_KUBERNETES/bin/kubeadm"
wanted=$("$kubeadm" config images list --kubernetes-version "$K8S")
echo "kubeadm $K8S wants:"; echo "$wanted" | sed 's/^/  /'
declare -A provides=(
  [kube-apiserver]="$KIT_IMAGE_KUBE_APISERVER"
  [kube-controller-manager]="$KIT_IMAGE_KUBE_CONTROLLER_MANAGER"
  [kube-scheduler]="$KIT_IMAGE_KUBE_SCHEDULER"
  [kube-proxy]="$KIT_IMAGE_KUBE_PROXY"
  [etcd]="$KIT_IMAGE_ETCD"
  [coredns]="$KIT_IMAGE_COREDNS"
  [pause]="$KIT_IMAGE_PAUSE"
)
tags=()        # "kit-image target-name" pairs
pause_tag=""
for ref in $wanted; do
  name="${ref##*/}"; component="${name%%:*}"; tag="${name##*:}"
  kit="${provides[$component]:-}"
  [ -n "$kit" ] || { echo "no kit image provides $ref" >&2; exit 1; }
  if [ "${kit##*:}" != "$tag" ]; then
    echo "kubeadm wants $ref but the kit built $kit: pin versions.yaml to match" >&2; exit 1
  fi
  tags+=("$kit $ref")
  [ "$component" = pause ] && pause_tag="$tag"
done

# --- 1. the node without preloaded images ---------------------------------------------------------
stamp "assembling the build context"
ctx="$KIT_CACHE/context"
rm -rf "$ctx"; mkdir -p "$ctx/kubernetes"
cp -a Dockerfile files "$ctx/"
for b in kubeadm kubelet kubectl crictl; do
  [ -x "$KIT_DIR_KUBERNETES/bin/$b" ] && cp "$KIT_DIR_KUBERNETES/bin/$b" "$ctx/kubernetes/"
done
echo "$K8S" > "$ctx/files/kind/version"
sed -i "s|@PAUSE_TAG@|$pause_tag|" "$ctx/files/etc/containerd/config.toml"
sed -i "s|@PODNET_IMAGE@|$KIT_IMAGE_PODNET|" "$ctx/files/kind/manifests/default-cni.yaml"
sed -i -e "s|@PROVISIONER_IMAGE@|$KIT_IMAGE_LOCAL_PATH_PROVISIONER|" -e "s|@HELPER_IMAGE@|$KIT_IMAGE_DEBIAN_TRIXIE|" \
  "$ctx/files/kind/manifests/default-storage.yaml"
if grep -rn '@[A-Z_]*@' "$ctx/files"; then echo "unfilled placeholders above" >&2; exit 1; fi
stamp "docker build (node base)"
base=$(docker build -q --build-arg "BASE=$KIT_IMAGE_DEBIAN_TRIXIE" "$ctx")
echo "node base image: $base"

# --- 2. preload ------------------------------------------------------------------------------------
stamp "docker save of the images to preload"
preload="$KIT_CACHE/preload"
rm -rf "$preload"; mkdir -p "$preload"
archive="$preload/images.tar"
refs=(); for pair in "${tags[@]}"; do refs+=("${pair%% *}"); done
refs+=("${extra[@]}")
docker save -o "$archive" "${refs[@]}"
ls -l "$archive"

name="wasm-lab-kit-node-build-$$"
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$preload"; }
trap cleanup EXIT
# Content-only import needs no mounts, so this container needs no extra privileges.
docker run -d --name "$name" --entrypoint /bin/sleep -v "$preload:/tmp/preload:ro" "$base" infinity >/dev/null
docker exec "$name" bash -c 'nohup containerd >/var/log/containerd-preload.log 2>&1 & echo $! >/run/containerd-preload.pid
  for i in $(seq 1 50); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done
  cat /var/log/containerd-preload.log; exit 1'
stamp "ctr import"
# --compress-blobs: `docker save` layers are plain tars; gzip them once here so the node image
# carries compressed content (containerd unpacks on first use and then drops it).
docker exec "$name" ctr --namespace=k8s.io images import --no-unpack --all-platforms --compress-blobs \
  /tmp/preload/images.tar
for pair in "${tags[@]}"; do
  kit="docker.io/${pair%% *}"; target="${pair##* }"
  docker exec "$name" ctr --namespace=k8s.io images tag --force "$kit" "$target" >/dev/null
  docker exec "$name" ctr --namespace=k8s.io images rm "$kit" >/dev/null
  # pinned: the kubelet's image garbage collection never removes them
  docker exec "$name" ctr --namespace=k8s.io images label "$target" io.cri-containerd.pinned=pinned >/dev/null
done
for ref in "${extra[@]}"; do
  docker exec "$name" ctr --namespace=k8s.io images label "docker.io/$ref" io.cri-containerd.pinned=pinned >/dev/null
done
docker exec "$name" ctr --namespace=k8s.io images ls -q | sed 's/^/  preloaded: /'
docker exec "$name" bash -c 'pid=$(cat /run/containerd-preload.pid); kill "$pid"
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  rm -rf /run/containerd /run/containerd-preload.pid /var/log/containerd-preload.log'

# --- 3. commit -------------------------------------------------------------------------------------
stamp "docker commit $KIT_IMAGE"
docker stop -t 1 "$name" >/dev/null
docker commit \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'CMD []' \
  --change 'ENV container=docker' \
  "$name" "$KIT_IMAGE" >/dev/null
# (STOPSIGNAL cannot be a commit change; the container's config keeps the Dockerfile's SIGRTMIN+3)
docker image inspect -f '{{.Id}} size={{.Size}} stopsignal={{.Config.StopSignal}}' "$KIT_IMAGE"
stamp "done"
