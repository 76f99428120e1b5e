#!/bin/sh
# Runs inside Debian trixie (minbase): downloads crun and libwasmedge0 at their pinned versions
# plus every package `apt-get install` would add to a minbase trixie for them, and writes
#   $KIT_OUT/debs/*.deb          the packages
#   $KIT_OUT/debs/SHA256SUMS     checked again by install.sh before anything is installed
#   $KIT_OUT/packages.txt        package=version, one per line
#   $KIT_OUT/install.sh          what the lab runs in a trixie node (dpkg -i, then checks)
#   $KIT_OUT/uninstall.sh        what lab.down runs there (dpkg --purge of what install.sh added)
# libwasmedge0 serves both crun (which dlopens libwasmedge.so.0 for `module.wasm.image/variant`
# containers) and the project's containerd-shim-wasmedge-v1, which links against it.
set -eu
: "${KIT_OUT:?}" "${KIT_VERSION_CRUN_TRIXIE:?}" "${KIT_VERSION_WASMEDGE_TRIXIE:?}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
wanted="crun=$KIT_VERSION_CRUN_TRIXIE libwasmedge0=$KIT_VERSION_WASMEDGE_TRIXIE"
# The closure over minbase: what apt would fetch, with versions. Recommends (libcriu2) are left out.
apt-get install --print-uris -qq -y --no-install-recommends $wanted > /tmp/uris
awk '{print $2}' /tmp/uris | sed 's/_[^_]*\.deb$//; s/_/=/' > /tmp/pkgs
# filename is name_version_arch.deb with ':' escaped as %3a
sed -i 's/%3a/:/' /tmp/pkgs
mkdir -p "$KIT_OUT/debs"
cd "$KIT_OUT/debs"
apt-get download $(cat /tmp/pkgs)
sha256sum *.deb > SHA256SUMS
sort /tmp/pkgs > "$KIT_OUT/packages.txt"
cp /recipe/install.sh /recipe/uninstall.sh "$KIT_OUT/"
chmod 0755 "$KIT_OUT/install.sh" "$KIT_OUT/uninstall.sh"
echo "packages:"; cat "$KIT_OUT/packages.txt"
du -sh "$KIT_OUT/debs"
