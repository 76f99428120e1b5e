#!/bin/sh
# Installs crun with WasmEdge support into a Debian trixie node from the .debs beside this script
# (no network): verifies their checksums, installs each package the node lacks, and checks that
# crun reports +WASM:wasmedge and that libwasmedge.so.0 resolves. Safe to run again.
# A package the node already has at the bundle's version is left alone; at another version it is
# the node's own and the install stops rather than change it. What this script adds is listed in
# added-packages (before dpkg runs, so an interrupted install is still undone) for uninstall.sh.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
added="$here/added-packages"
touch "$added"
cd "$here/debs"
sha256sum -c --quiet SHA256SUMS
debs=""
while IFS='=' read -r name version; do
  have=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$name" 2>/dev/null || true)
  if grep -qx "$name" "$added"; then
    [ "$have" = "ii $version" ] && continue
  elif [ "$have" = "ii $version" ]; then
    continue
  elif [ "${have#ii }" != "$have" ]; then
    echo "package $name ${have#ii } is the node's own; the bundle needs $version and leaves it alone" >&2
    exit 3
  else
    echo "$name" >> "$added"
  fi
  debs="$debs $(ls "${name}"_*.deb)"
done < "$here/packages.txt"
if [ -n "$debs" ]; then
  dpkg -i --force-confdef --force-confold $debs >/dev/null
fi
crun --version | grep -q '+WASM:wasmedge' || { echo "crun lacks +WASM:wasmedge" >&2; exit 1; }
ldconfig -p | grep -q 'libwasmedge.so.0 ' || { echo "libwasmedge.so.0 not found" >&2; exit 1; }
crun --version | head -1
