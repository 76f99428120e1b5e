#!/bin/sh
# collect-libs.sh ROOT BINARY...: copies each BINARY and every shared library ldd resolves for it
# (plus the dynamic loader) into ROOT at the same paths, so ROOT runs them as a FROM-scratch image.
set -eu
root="$1"; shift
for bin in "$@"; do
  mkdir -p "$root$(dirname "$bin")"
  cp -L "$bin" "$root$bin"
  ldd "$bin" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
done
# ld.so is found through the path written in the binary (PT_INTERP); /lib64 is a link on Debian.
if [ -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e "$root/lib64/ld-linux-x86-64.so.2" ]; then
  mkdir -p "$root/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
fi
mkdir -p "$root/tmp"; chmod 1777 "$root/tmp"
