"""A cold start seen from inside the node: probe.sh, run in the node the pod lands on, finds the
pod's sandbox through the CRI, asks the pod IP for a 200 every few milliseconds and reports the
CRI's nanosecond times of the sandbox and the container. It finds the pod by its labels, so it is
started on the node the variant ran on before the pod is even created (and on another node too if
the watch sees the pod scheduled there): starting it costs a `docker exec` or more, which a start
of a few hundred milliseconds cannot wait for."""
from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime
from pathlib import Path

SCRIPT = (Path(__file__).parent / "probe.sh").read_text()
INTERVAL = 0.002    # seconds between two attempts at the pod IP
# The probe's own times (the node's wall clock) and the CRI's, by the name the bench gives them.
STAMPS = {"probe_started": "probe_started", "sandbox_found": "sandbox_ready", "first_200": "pod_ip_200",
          "sandbox_created": "sandbox_created", "container_created": "container_created",
          "container_started": "container_started"}


RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def epoch(stamp: str) -> float | None:
    """Seconds since the epoch from `$EPOCHREALTIME` or an RFC 3339 time with up to nanoseconds
    (Python's own parser stops at microseconds)."""
    stamp = stamp.strip()
    try:
        return float(stamp)
    except ValueError:
        pass
    found = RFC3339.match(stamp)
    if not found:
        return None
    whole, digits, zone = found.groups()
    seconds = datetime.fromisoformat(whole + ("+00:00" if zone in (None, "Z") else zone)).timestamp()
    return seconds + (int(digits) / 10 ** len(digits) if digits else 0.0)


def parse(output: str) -> dict:
    """probe.sh's key=value lines: times as epoch seconds, counts as ints, the rest as text."""
    found: dict = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key in STAMPS:
            found[STAMPS[key]] = epoch(value)
        elif key in ("attempts", "refused"):
            found[key] = int(value) if value.isdigit() else None
        else:
            found[key] = value
    return found


class NodeProbe(threading.Thread):
    """probe.sh for the next pod with these labels, in one node, on a thread; `result` once done."""

    def __init__(self, node, labels: dict[str, str], namespace: str, port: int, path: str, timeout: float):
        super().__init__(daemon=True, name=f"bench-probe-{node.name}")
        self.stopfile = f"/tmp/wasm-lab-probe-{uuid.uuid4().hex[:12]}.stop"
        self.node, self.argv = node, ["bash", "-c", SCRIPT, "probe", self.stopfile, namespace, str(port), path,
                                      str(int(timeout)), str(INTERVAL),
                                      *(f"{k}={v}" for k, v in sorted(labels.items()))]
        self.result: dict = {}

    def stop(self) -> None:
        """Make a probe still waiting for a sandbox give up (its pod went elsewhere)."""
        if self.is_alive():
            try:
                self.node.exec(["touch", self.stopfile])
            except Exception:  # the probe then ends at its own timeout
                pass

    def run(self):
        try:
            done = self.node.exec(self.argv)
        except Exception as error:  # reported with the run, never raised on this thread
            self.result = {"error": f"{error.__class__.__name__}: {error}"}
            return
        self.result = parse(done.stdout)
        if done.returncode != 0 and "error" not in self.result:
            tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            self.result["error"] = f"probe exited {done.returncode}: {tail[0][:200]}"
