#!/bin/sh
# rootfs.sh ROOT: lays out the loadgen image in ROOT from the packages installed in this stage:
# the programs below with every shared library ldd resolves for them (and the dynamic loader),
# the project's report.lua and responder.conf, and the Debian copyright file of every package a
# copied file comes from. Refuses a file no installed package owns.
set -eu
root="$1"
src="$(dirname "$0")"
programs="/usr/bin/wrk /usr/sbin/nginx /usr/bin/dash /usr/bin/sleep /usr/bin/cat /usr/bin/head /usr/bin/tail /usr/bin/ls /usr/bin/env"

mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/etc"
# merged /usr, as on Debian: /bin, /lib, ... are links into /usr
for top in bin sbin lib lib64; do
  if [ -L "/$top" ]; then
    mkdir -p "$root/$(readlink "/$top")"
    ln -s "$(readlink "/$top")" "$root/$top"
  fi
done

files=$(mktemp)
for program in $programs; do
  echo "$program" >>"$files"
  ldd "$program" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' >>"$files"
done
owners=$(mktemp)
sort -u "$files" | while read -r file; do
  mkdir -p "$root$(dirname "$file")"
  cp -L "$file" "$root$file"
  real="$(realpath "$file")"
  owner="$(dpkg -S "$real" 2>/dev/null || dpkg -S "$file" 2>/dev/null)" || {
    echo "rootfs.sh: no installed package owns $file" >&2; exit 1; }
  echo "${owner%%:*}" >>"$owners"
done
ln -s dash "$root/usr/bin/sh"

# what the image is made of: package, version, and each package's copyright file
mkdir -p "$root/usr/share/wasm-lab" "$root/usr/share/doc"
sort -u "$owners" | while read -r package; do
  dpkg-query -W -f '${Package} ${Version}\n' "$package" >>"$root/usr/share/wasm-lab/packages.txt"
  mkdir -p "$root/usr/share/doc/$package"
  cp -L "/usr/share/doc/$package/copyright" "$root/usr/share/doc/$package/copyright"
done
rm -f "$files" "$owners"

install -m 0644 "$src/report.lua" "$root/usr/share/wasm-lab/report.lua"
mkdir -p "$root/etc/wasm-lab"
install -m 0644 "$src/responder.conf" "$root/etc/wasm-lab/responder.conf"
# root runs nginx's workers as nobody:nogroup; keep the base's account files for that
cp /etc/passwd /etc/group "$root/etc/"
# nginx opens its built-in error log before it reads the config: send that to stderr too
mkdir -p "$root/var/log/nginx"
ln -s /dev/stderr "$root/var/log/nginx/error.log"
mkdir -p "$root/tmp"
chmod 1777 "$root/tmp"

# the image works: both programs start from ROOT alone, and the config is valid
chroot "$root" /usr/bin/sh -c 'wrk --version | head -n 1' | grep -q '^wrk '
chroot "$root" /usr/sbin/nginx -t -c /etc/wasm-lab/responder.conf
rm -rf "$root/tmp/"*
cat "$root/usr/share/wasm-lab/packages.txt"
