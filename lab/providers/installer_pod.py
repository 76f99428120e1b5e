"""The installer pod: how the lab reaches the nodes of a cluster it did not create.

One short-lived privileged pod per selected node (hostPID, hostNetwork, the node's / mounted at
/host, pinned to the node by nodeName, tolerating every taint), in the lab's own installer
namespace and named after the lab. A pod exists only while an action (or lab.down, for all its
undos) changes its node: it is made on first use and deleted when that ends (`close`), and one a
killed run left behind ends itself after `POD_DEADLINE`. Every command runs in the
node's own namespaces through `nsenter -t 1 -m -u -i -n -p --`, so `cat`, `sha256sum`,
`containerd config dump` and `systemctl` are the node's own programs, exactly as on a kind node.
`InstallerPodNode` is a `lab.nodes.Node`, so `lab.node_runtimes` installs, verifies and rolls back
through it unchanged.

The pod needs an image that is already on the node, since an existing cluster may have no
registry the lab can push to. By default it runs the node's own sandbox (pause) image, which
every kubelet keeps, and borrows the node's tools: the exec runs the node's dynamic loader
(`/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path /host/... /host/usr/bin/nsenter`),
so nothing has to be pulled. `installer_image` names an image with `nsenter` instead.

Restarting containerd cuts the exec stream itself (CRI serves exec), so a restart is handed to
the node's systemd (`systemd-run --on-active=2`) as a guarded script: it restarts containerd,
waits for it to be active and answer `ctr version` (30 s), and when it does not come back it restores the config files
written since the last restart and restarts again, on the node, without needing the pod. The
lab then reads the script's status file once containerd answers."""
from __future__ import annotations

import hashlib
import re
import shlex
import time

from kubernetes.client.exceptions import ApiException

from lab.errors import LabError
from lab.kube import OWNER, delete_if_present, read_if_present, websocket_exec
from lab.nodes import Node, Result
from lab.waits import wait_until

APP = "wasm-lab-installer"
POD_DEADLINE = 1800  # seconds: the longest one action may need a node (importing every image)
HOST = "/host"
NSENTER_ARGS = ["-t", "1", "-m", "-u", "-i", "-n", "-p", "--"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOADERS = ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
           "/usr/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2",
           "/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
           "/usr/lib/ld-linux-aarch64.so.1", "/lib/ld-linux-aarch64.so.1")
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib")
NSENTER_PATHS = ("/usr/bin/nsenter", "/bin/nsenter", "/usr/sbin/nsenter", "/sbin/nsenter")
GUARDED_SUFFIX = ".toml"           # config files the restart guard restores when containerd fails
PREVIOUS_SUFFIX = ".wasm-lab-prev"  # the guard's copy of a config file as it was before the lab wrote it
IMAGE_PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
                       "CreateContainerError", "CreateContainerConfigError", "RunContainerError")


def namespace_name(lab: str) -> str:
    return f"{APP}-{lab}"  # lab names have at most 32 characters


def pod_name(lab: str, node_name: str) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", f"{lab}-installer-{node_name}".lower()).strip("-")
    if len(name) <= 63:
        return name
    return f"{name[:50].rstrip('-')}-{hashlib.sha256(node_name.encode()).hexdigest()[:12]}"


def marks(lab: str) -> dict:
    return {"labels": {"app.kubernetes.io/name": APP, "app.kubernetes.io/managed-by": "wasm-lab"},
            "annotations": {OWNER: lab}}


def pod_manifest(lab: str, node_name: str, image: str, borrow_host_tools: bool) -> dict:
    """The installer pod for one node (pure: unit-tested)."""
    container = {
        "name": "installer",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        # root: the pause image runs as 65535, and an exec then has no capabilities for setns
        "securityContext": {"privileged": True, "runAsUser": 0, "runAsGroup": 0},
        "env": [{"name": "PATH", "value": PATH}],
        "volumeMounts": [{"name": "host", "mountPath": HOST}],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }
    if not borrow_host_tools:
        container["command"] = ["sleep", "infinity"]  # the pause image's own entrypoint just waits
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name(lab, node_name), "namespace": namespace_name(lab),
                     "labels": marks(lab)["labels"],
                     "annotations": {**marks(lab)["annotations"], "wasm-lab.dev/node": node_name}},
        "spec": {
            "nodeName": node_name,
            "hostPID": True,
            "hostNetwork": True,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "activeDeadlineSeconds": POD_DEADLINE,  # a pod a killed run left behind ends itself
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "tolerations": [{"operator": "Exists"}],
            "containers": [container],
            "volumes": [{"name": "host", "hostPath": {"path": "/", "type": "Directory"}}],
        },
    }


def namespace_manifest(lab: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace_name(lab), "annotations": marks(lab)["annotations"], "labels": {
                **marks(lab)["labels"],
                # privileged pods must be admitted even where Pod Security enforces a baseline
                "pod-security.kubernetes.io/enforce": "privileged"}}}


def sandbox_image(node_obj) -> str | None:
    """The kubelet's pause image among the images the node reports, if any."""
    for image in (node_obj.status.images or []) if node_obj.status else []:
        for name in image.names or []:
            if "@" not in name and re.search(r"(^|/)pause:[^/]+$", name):
                return name
    return None


class InstallerPodNode(Node):
    """A node of an existing cluster, reached through the lab's installer pod on it: made on
    first use, deleted by `close` once the action that needed the node is done."""

    def __init__(self, core, lab: str, node_name: str, image: str | None = None, exec_fn=websocket_exec,
                 pod_timeout: float = 180, exec_timeout: float = 600, restart_timeout: float = 120):
        self.name = node_name
        self.core = core
        self.lab = lab
        self.namespace = namespace_name(lab)
        self.image = image  # None: the node's pause image and the node's own tools
        self.exec_fn = exec_fn
        self.pod_timeout, self.exec_timeout, self.restart_timeout = pod_timeout, exec_timeout, restart_timeout
        self.pod = pod_name(lab, node_name)
        self._prefix: list[str] | None = None
        self._guarded: dict[str, bool] = {}  # config path -> whether it existed before the lab wrote it

    # ------------------------------------------------------------------ the pod
    def ensure_pod(self) -> None:
        if self._prefix is not None:
            return
        borrow = self.image is None
        image = self.image or self._sandbox_image()
        _ensure_namespace(self.core, self.lab)
        try:
            self.core.create_namespaced_pod(self.namespace, pod_manifest(self.lab, self.name, image, borrow))
        except ApiException as error:
            if error.status != 409:
                raise LabError(f"{self.name}: cannot create the installer pod ({error.status} {error.reason}); "
                               "the lab needs rights to create privileged pods in namespace " + self.namespace)
            self._replace_leftover(image, borrow)
        self._wait_running()
        self._prefix = self._find_prefix(borrow)

    def _replace_leftover(self, image: str, borrow: bool) -> None:
        """A pod a killed run left behind: deleted and made anew, so each action starts on a fresh one."""
        self._delete_pod()
        wait_until(lambda: self._pod() is None, self.pod_timeout,
                   f"{self.name}: the installer pod {self.pod} a killed run left behind is still terminating", 1)
        self.core.create_namespaced_pod(self.namespace, pod_manifest(self.lab, self.name, image, borrow))

    def _pod(self):
        return read_if_present(lambda: self.core.read_namespaced_pod(self.pod, self.namespace))

    def _sandbox_image(self) -> str:
        image = sandbox_image(self.core.read_node(self.name))
        if image is None:
            raise LabError(f"{self.name}: the node reports no pause image to run the installer pod from; "
                           "set installer_image to an image with nsenter that the node can pull")
        return image

    def _running(self) -> bool:
        pod = self._pod()
        phase = pod.status.phase if pod is not None and pod.status else None
        for status in (pod.status.container_statuses or []) if phase else []:
            waiting = status.state.waiting if status.state else None
            if waiting is not None and waiting.reason in IMAGE_PULL_FAILURES:
                raise LabError(f"{self.name}: installer pod cannot start ({waiting.reason}: "
                               f"{(waiting.message or '')[:200]})")
            if status.state and status.state.running and phase == "Running":
                return True
        if phase in ("Failed", "Succeeded"):
            self._delete_pod()
            raise LabError(f"{self.name}: installer pod ended ({phase}); run lab.up again to replace it")
        return False

    def _wait_running(self) -> None:
        wait_until(self._running, self.pod_timeout, f"{self.name}: installer pod {self.pod} never ran", 1)

    def _find_prefix(self, borrow: bool) -> list[str]:
        if not borrow:
            prefix = ["nsenter", *NSENTER_ARGS]
            if self._raw(prefix + ["true"]).returncode != 0:
                raise LabError(f"{self.name}: installer image {self.image} cannot run `nsenter` into the node")
            return prefix
        libraries = ":".join(HOST + d for d in LIBRARY_DIRS)
        for loader in LOADERS:
            if self._raw([HOST + loader, "--version"]).returncode in (126, 127, 255):
                continue  # no such loader on this node
            for nsenter in NSENTER_PATHS:
                prefix = [HOST + loader, "--library-path", libraries, HOST + nsenter, *NSENTER_ARGS]
                if self._raw(prefix + ["true"]).returncode == 0:
                    return prefix
        raise LabError(f"{self.name}: found no dynamic loader and nsenter on the node to borrow; "
                       "set installer_image to an image with nsenter (util-linux)")

    def _delete_pod(self) -> bool:
        try:
            return delete_if_present(lambda: self.core.delete_namespaced_pod(self.pod, self.namespace,
                                                                             grace_period_seconds=0))
        finally:
            self._prefix = None

    def close(self) -> bool:
        """The action is done with this node: its installer pod goes (True when there was one)."""
        return self._delete_pod()

    # ------------------------------------------------------------------ Node
    @property
    def prefix(self) -> list[str]:
        """How a command enters the node (found by ensure_pod)."""
        if self._prefix is None:
            raise LabError(f"{self.name}: the installer pod is not running")
        return self._prefix

    def _raw(self, command: list[str], stdin: bytes | None = None) -> Result:
        return self.exec_fn(self.core, self.pod, self.namespace, command, stdin, self.exec_timeout)

    def exec(self, argv, input=None):
        self.ensure_pod()
        if list(argv) == ["systemctl", "restart", "containerd"]:
            return self._guarded_restart()
        return self._raw(self.prefix + list(argv), input)

    def put_file(self, path, content, mode=0o644):
        """Write through `head -c N` (no end-of-input needed on the stream), then an atomic rename."""
        self.ensure_pod()
        if path.endswith(GUARDED_SUFFIX) and path not in self._guarded:
            existed = self._raw(self.prefix + ["sh", "-c", 'test ! -e "$1" || cp -p "$1" "$1$2"', "guard",
                                                path, PREVIOUS_SUFFIX])
            if existed.returncode != 0:
                raise LabError(f"{self.name}: cannot keep a copy of {path} before changing it: {existed.stderr.strip()}")
            self._guarded[path] = self._raw(self.prefix + ["test", "-e", path + PREVIOUS_SUFFIX]).returncode == 0
        script = ('set -e; mkdir -p "$(dirname "$1")"; head -c "$2" > "$1.wasm-lab-new"; '
                  'chmod "$3" "$1.wasm-lab-new"; mv -f "$1.wasm-lab-new" "$1"')
        done = self._raw(self.prefix + ["sh", "-c", script, "put", path, str(len(content)), f"{mode:o}"], content)
        if done.returncode != 0:
            raise LabError(f"{self.name}: writing {path} failed: {(done.stdout + done.stderr).strip()[-300:]}")

    # ------------------------------------------------------------------ containerd restart
    def restart_script(self, token: str) -> str:
        """The guard systemd runs on the node (pure given the files written: unit-tested)."""
        status = f"/run/wasm-lab-restart-{token}"
        restore = " ".join(
            (f"mv -f {shlex.quote(p + PREVIOUS_SUFFIX)} {shlex.quote(p)};" if existed else f"rm -f {shlex.quote(p)};")
            for p, existed in sorted(self._guarded.items()))
        forget = " ".join(f"rm -f {shlex.quote(p + PREVIOUS_SUFFIX)};" for p, existed in sorted(self._guarded.items())
                          if existed)
        # `ctr version` alone can block for long while containerd is down: ask systemd first, bound ctr
        return ("up() { for i in $(seq 1 30); do systemctl is-active -q containerd && "
                "timeout 5 ctr version >/dev/null 2>&1 && return 0; sleep 1; done; return 1; }; "
                f"systemctl restart containerd; if up; then {forget} echo ok > {status}.new; mv {status}.new {status}; "
                f"exit 0; fi; {restore} systemctl restart containerd; up; echo rolled-back > {status}.new; "
                f"mv {status}.new {status}")

    def _guarded_restart(self) -> Result:
        token = str(time.time_ns())
        status_file = f"/run/wasm-lab-restart-{token}"
        # timers are coalesced within a minute by default: ask for the 2 s to mean 2 s
        started = self._raw(self.prefix + ["systemd-run", "--quiet", "--collect", f"--unit=wasm-lab-restart-{token}",
                                            "--on-active=2", "--timer-property=AccuracySec=100ms",
                                            "/bin/sh", "-c", self.restart_script(token)])
        if started.returncode != 0:
            return started

        def outcome() -> str:
            seen = self._raw(self.prefix + ["cat", status_file])
            return seen.stdout.strip() if seen.returncode == 0 else ""  # not yet, or exec cut by the restart

        try:
            said = wait_until(outcome, self.restart_timeout, "no word from the containerd restart", 0.5)
        except LabError as error:
            return Result(1, "", str(error))
        self._raw(self.prefix + ["rm", "-f", status_file])
        self._guarded = {}
        if said == "ok":
            return Result(0, "containerd restarted\n")
        return Result(1, "", "containerd did not come back after the restart; the node restored the config "
                             "files the lab had changed and restarted containerd on them")


def _ensure_namespace(core, lab: str) -> None:
    try:
        core.create_namespace(namespace_manifest(lab))
    except ApiException as error:
        if error.status != 409:
            raise LabError(f"cannot create namespace {namespace_name(lab)} for the installer pods "
                           f"({error.status} {error.reason})")
