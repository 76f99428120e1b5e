#!/bin/bash
# probe.sh STOPFILE NAMESPACE PORT PATH TIMEOUT INTERVAL LABEL... — run inside a node by
# lab/bench/probe.py, before the pod it waits for exists; it gives up when STOPFILE appears.
#
# Finds the first sandbox with these pod labels that becomes ready (its network is set up) and was
# not ready already when the probe started, through the CRI; then asks
# http://<pod IP>:PORT PATH from the node's own network every INTERVAL seconds until the answer is
# 200, and prints what the CRI knows of the sandbox and the container. bash's /dev/tcp and
# $EPOCHREALTIME are builtins: an attempt costs no process, so the interval is the probe's real
# resolution. Output: key=value lines, times on the node's wall clock in seconds (µs or ns digits).
set -u
stopfile=$1 namespace=$2 port=$3 path=$4 timeout=$5 interval=$6
shift 6
trap 'rm -f "$stopfile"' EXIT
filters=(--namespace "^${namespace}\$" --state ready)
for label in "$@"; do filters+=(--label "$label"); done
echo "probe_started=$EPOCHREALTIME"
before=" $(crictl pods "${filters[@]}" -q 2>/dev/null | tr '\n' ' ') "
deadline=$(( ${EPOCHREALTIME%.*} + timeout ))
# read -t on a pipe nobody writes to: a sleep without a process.
exec {idle}<> <(:)
nap() { read -r -t "$1" -u "$idle" _ || true; }

sandbox=""
while [ -z "$sandbox" ]; do
  for id in $(crictl pods "${filters[@]}" -q 2>/dev/null); do
    case "$before" in *" $id "*) ;; *) sandbox=$id; break ;; esac
  done
  if [ -z "$sandbox" ]; then
    if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then echo "error=no new ready sandbox within ${timeout}s"; exit 3; fi
    if [ -e "$stopfile" ]; then echo "error=stopped: the pod went to another node"; exit 5; fi
    nap 0.005
  fi
done
echo "sandbox_found=$EPOCHREALTIME"
echo "sandbox=$sandbox"
ip=$(crictl inspectp -o go-template --template '{{.status.network.ip}}' "$sandbox")
echo "pod_ip=$ip"

attempts=0 refused=0
while :; do
  attempts=$((attempts + 1))
  if exec 3<>"/dev/tcp/$ip/$port" 2>/dev/null; then
    printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$ip" >&3
    status_line=""
    read -r -t 2 status_line <&3 || true
    exec 3<&- 3>&-
    case "$status_line" in
      "HTTP/1."?" 200"*) echo "first_200=$EPOCHREALTIME"; break ;;
    esac
  else
    refused=$((refused + 1))
  fi
  if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then echo "error=$ip:$port never answered 200 within ${timeout}s"; exit 4; fi
  nap "$interval"
done
echo "attempts=$attempts"
echo "refused=$refused"
echo "sandbox_created=$(crictl inspectp -o go-template --template '{{.status.createdAt}}' "$sandbox")"
container=$(crictl ps --pod "$sandbox" -q | head -n 1)
echo "container_created=$(crictl inspect -o go-template --template '{{.status.createdAt}}' "$container")"
echo "container_started=$(crictl inspect -o go-template --template '{{.status.startedAt}}' "$container")"
