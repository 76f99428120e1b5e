#!/bin/sh
# collect.sh ROOT: the netfilter and routing tools kube-proxy and podnet run — iptables and
# ip6tables on nf_tables, nft, conntrack, ipset, ip, modprobe — with every iptables extension
# (loaded with dlopen, so no ldd of the program finds them) and every library the programs and
# extensions link, copied into ROOT at their Debian paths: a FROM-scratch image of just these.
set -eu
root="$1"
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64" "$root/etc" "$root/run" "$root/tmp"
chmod 1777 "$root/tmp"
for top in bin sbin lib lib64; do ln -s "usr/$top" "$root/$top"; done   # merged /usr, as on trixie
copy() { mkdir -p "$root$(dirname "$1")"; cp -L "$1" "$root$1"; }
extensions=$(dirname "$(ldd /usr/sbin/xtables-nft-multi | awk '/libxtables/{print $3}')")/xtables
programs="/usr/sbin/xtables-nft-multi /usr/sbin/nft /usr/sbin/conntrack /usr/sbin/ipset /usr/bin/ip /usr/bin/kmod"
for file in $programs "$extensions"/*.so /etc/protocols /etc/services /etc/ethertypes; do copy "$file"; done
for elf in $programs "$extensions"/*.so; do
  ldd "$elf" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}'
done | sort -u | while read -r lib; do copy "$lib"; done
# the names they are run by, where Debian's alternatives point them (iptables on nf_tables)
for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -s xtables-nft-multi "$root/usr/sbin/$name"
done
ln -s ../bin/kmod "$root/usr/sbin/modprobe"
