#!/bin/sh
# Builds wasm-lab's containerd shims and wasmtime CLI (this cargo workspace, Cargo.lock pinned, in
# one cargo build so wasmtime is compiled once for both) inside the shims-builder image (Debian
# trixie, like the nodes) and writes to $KIT_OUT:
#   bin/containerd-shim-wasmtime-v1   bin/containerd-shim-wasmedge-v1   bin/wasmtime
#   BUILDINFO (ldd, glibc needs)
# The Rust toolchain is the build host's (rustc >= 1.95, wasmtime's MSRV; Debian trixie only has
# 1.85), mounted read-only. Cargo's registry and target dir live in $KIT_CACHE, so a second or
# interrupted build resumes incrementally.
set -eu
: "${KIT_OUT:?}" "${KIT_CACHE:?}" "${KIT_IMAGE_SHIMS_BUILDER:?}"
here="$(cd "$(dirname "$0")" && pwd)"
sysroot="${RUST_SYSROOT:-$(rustc --print sysroot)}"
jobs="${CARGO_BUILD_JOBS:-2}"
# Trust what the build host trusts (its CA bundle, public certificates only): hosts behind a
# TLS-inspecting egress proxy need it for crates.io, elsewhere it is the usual roots.
cabundle="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
mkdir -p "$KIT_CACHE/cargo-home" "$KIT_CACHE/target" "$KIT_OUT/bin"
"$sysroot/bin/rustc" --version

# The source is copied so that nothing the build writes lands in the recipe directory.
docker run --rm --network host --name "wasm-lab-kit-shims-$$" \
  -v "$here:/src:ro" -v "$KIT_CACHE:/cache" -v "$KIT_OUT:/out" -v "$sysroot:/opt/rust:ro" \
  -v "$cabundle:/etc/ssl/host-ca-bundle.crt:ro" -e CARGO_HTTP_CAINFO=/etc/ssl/host-ca-bundle.crt \
  -e PATH=/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  -e CARGO_HOME=/cache/cargo-home -e CARGO_TARGET_DIR=/cache/target -e CARGO_BUILD_JOBS="$jobs" \
  -e LIBSECCOMP_LINK_TYPE=static -e LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu \
  -e WASMEDGE_INCLUDE_DIR=/usr/include -e WASMEDGE_LIB_DIR=/usr/lib/x86_64-linux-gnu \
  "$KIT_IMAGE_SHIMS_BUILDER" sh -euc '
    mkdir -p /cache/src
    cp -a /src/Cargo.toml /src/Cargo.lock /src/wasmtime /src/wasmedge /src/wasmtime-cli /cache/src/
    cd /cache/src
    cargo build --release --locked
    for b in containerd-shim-wasmtime-v1 containerd-shim-wasmedge-v1 wasmtime; do
      install -m 0755 /cache/target/release/$b /out/bin/$b
    done
    {
      echo "built-in: $(. /etc/os-release; echo "$PRETTY_NAME"), $(rustc --version)"
      for b in /out/bin/*; do
        echo "== $(basename $b)"; ldd "$b" | sed "s/ (0x[0-9a-f]*)//"
        echo "glibc needed: $(objdump -T "$b" | grep -o "GLIBC_[0-9.]*" | sort -uV | tail -1)"
      done
    } > /out/BUILDINFO
    chown -R '"$(id -u):$(id -g)"' /out
  '
cat "$KIT_OUT/BUILDINFO"
