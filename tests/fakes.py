"""FAKES shared by the unit tests, labelled as such: each stands in for a real component so a
test can check the lab's own logic; the real path is covered by the kit and e2e tests named in
each test module.

- `answer`: the node side of Node.read_file, Node.sha256s and node_runtimes.uninstall's restore,
  over a dict of path -> bytes.
- `FakeNode`: a kind-like node whose files live in a dict; it answers `containerd config dump` by
  echoing the config it holds, plays systemctl restarts (optionally failing) and the bundle scripts.
- `UnexpectedCommand`: what a fake raises for a command it does not know.
- `FakeCore`: the CoreV1Api calls the lab makes on nodes (labels, taints, images), namespaces and
  pods, kept in dicts; a pod is Running as soon as it is created; absent is a 404, taken a 409.
- `FakeApps`: Deployment scales in a dict, patches recorded.
- `FakeKube`: a `lab.kube.Kube` whose API server is a dict of objects by (kind, namespace, name):
  server-side apply replaces them; only the API calls are replaced, the lab's ownership logic
  (`apply_owned`, `delete_owned`) runs as is.
"""
import copy
import hashlib
from pathlib import Path
from types import SimpleNamespace as NS

from kubernetes.client.exceptions import ApiException

from lab import node_runtimes
from lab.errors import LabError
from lab.kube import Kube
from lab.nodes import Node, Result

KIND_CONFIG = (Path(__file__).parent / "unit" / "fixtures" / "containerd" / "kind-v2.toml").read_text()


class UnexpectedCommand(BaseException):
    """A command no fake knows: a bug in the test or the code, never an error the lab handles. Not an
    Exception, so neither the lab's `except Exception` nor a test's `pytest.raises(SomeError)` takes
    it for the failure under test."""


def answer(files: dict[str, bytes], argv: list[str]) -> Result | None:
    """The answer to a file command, or None when argv is not one."""
    if argv[:2] == ["sh", "-c"] and argv[3] == "restore":  # the kept file back, or none
        path, suffix = argv[4], argv[5]
        kept = files.pop(path + suffix, None)
        files.pop(path, None)
        if kept is not None:
            files[path] = kept
        return Result(0, "")
    if argv[:2] == ["sh", "-c"] and argv[3] == "read":  # exit 3 means absent
        data = files.get(argv[4])
        return Result(0, data.decode()) if data is not None else Result(3, "")
    if argv[:2] == ["sh", "-c"] and argv[3] == "loaded":  # containerd started after the config's last write
        return Result(0, "")
    if argv[:2] == ["sha256sum", "--"]:  # a line per file that is there, as sha256sum prints them
        there = [path for path in argv[2:] if files.get(path) is not None]
        lines = "".join(f"{hashlib.sha256(files[path]).hexdigest()}  {path}\n" for path in there)
        return Result(0 if len(there) == len(argv) - 2 else 1, lines)
    return None


class FakeNode(Node):
    def __init__(self, restart_fails=False):
        self.name = "fake-worker"
        self.files = {node_runtimes.MAIN_CONFIG: KIND_CONFIG.encode()}
        self.restarts = 0
        self.installs, self.uninstalls = [], []
        self.restart_fails = restart_fails
        self.unloaded = False      # a config written after containerd's last start

    def exec(self, argv, input=None):
        if argv[:2] == ["sh", "-c"] and argv[3] == "loaded":
            return Result(1 if self.unloaded else 0, "")
        answered = answer(self.files, argv)
        if answered is not None:
            return answered
        if argv == ["systemctl", "restart", "containerd"]:
            self.restarts += 1
            self.unloaded = False
            broken = self.restart_fails and b"wasmedge" in self.files[node_runtimes.MAIN_CONFIG]
            return Result(1 if broken else 0, "", "job failed" if broken else "")
        if argv == ["ctr", "version"]:
            return Result(0, "ok")
        if argv == ["containerd", "config", "dump"]:
            return Result(0, self.files[node_runtimes.MAIN_CONFIG].decode())
        if argv[0] == "sh" and argv[1].endswith("/install.sh"):
            self.installs.append(argv[1])
            return Result(0, "")
        if argv[:2] == ["sh", "-c"] and argv[3] == "uninstall":
            self.uninstalls.append(argv[4])
            return Result(0, "")
        if argv[:2] == ["rm", "-rf"]:
            for path in [p for p in self.files if p == argv[2] or p.startswith(argv[2] + "/")]:
                del self.files[path]
            return Result(0, "")
        if argv[0] == "rmdir":
            return Result(0, "")
        if argv[:2] == ["rm", "-f"]:
            self.files.pop(argv[2], None)
            return Result(0, "")
        if argv[:2] == ["cp", "-p"]:
            self.files[argv[3]] = self.files[argv[2]]
            return Result(0, "")
        raise UnexpectedCommand(f"unexpected command {argv}")

    def put_file(self, path, content, mode=0o644):
        self.files[path] = content


class FakeCore:
    """FAKE CoreV1Api (see the module's docstring). Listing pods shows none: the pods it holds are
    installer-pod manifests, not the workload pods a listing is asked for."""

    def __init__(self, images=("registry.k8s.io/pause:3.10.1",), waiting=None):
        self.labels: dict[str, dict] = {}
        self.patches: list = []
        self.pods, self.namespaces, self.deleted = {}, {}, []
        self.node_images = images
        self.waiting = waiting  # the reason every pod waits with (an image pull failure), or None

    def read_node(self, name):
        images = [NS(names=["docker.io/library/x@sha256:ab", n]) for n in self.node_images]
        return NS(metadata=NS(labels=dict(self.labels.get(name, {}))), spec=NS(taints=None),
                  status=NS(images=images))

    def patch_node(self, name, body):
        self.patches.append((name, body))
        labels = self.labels.setdefault(name, {})
        for key, value in body["metadata"]["labels"].items():
            if value is None:
                labels.pop(key, None)
            else:
                labels[key] = value

    def create_namespace(self, body):
        if body["metadata"]["name"] in self.namespaces:
            raise ApiException(status=409, reason="AlreadyExists")
        self.namespaces[body["metadata"]["name"]] = body

    def delete_namespace(self, name):
        if self.namespaces.pop(name, None) is None:
            raise ApiException(status=404, reason="NotFound")

    def list_pod_for_all_namespaces(self, field_selector):
        return NS(items=[])

    def list_namespaced_pod(self, namespace):
        return NS(items=[])

    def create_namespaced_pod(self, namespace, body):
        self.pods[body["metadata"]["name"]] = body

    def read_namespaced_pod(self, name, namespace):
        if name not in self.pods:
            raise ApiException(status=404, reason="NotFound")
        state = NS(waiting=NS(reason=self.waiting, message="pull failed"), running=None) if self.waiting \
            else NS(waiting=None, running=NS(started_at="now"))
        return NS(status=NS(phase="Pending" if self.waiting else "Running", container_statuses=[NS(state=state)]))

    def delete_namespaced_pod(self, name, namespace, grace_period_seconds=None):
        if self.pods.pop(name, None) is None:
            raise ApiException(status=404, reason="NotFound")
        self.deleted.append(name)


class FakeApps:
    """FAKE AppsV1Api: Deployment replicas by name; scale patches recorded."""

    def __init__(self, replicas=None):
        self.replicas = dict(replicas or {})
        self.patches: list = []

    def read_namespaced_deployment_scale(self, name, namespace):
        return NS(spec=NS(replicas=self.replicas[name]))

    def patch_namespaced_deployment_scale(self, name, namespace, body):
        self.patches.append((name, body["spec"]["replicas"]))
        self.replicas[name] = body["spec"]["replicas"]


class FakeKube(Kube):
    """FAKE API server (see the module's docstring); a Deployment named in `never_ready` never
    becomes ready."""

    def __init__(self, replicas=None, never_ready=()):
        self.objects: dict = {}
        self.core, self.apps = FakeCore(), FakeApps(replicas)
        self.never_ready = never_ready

    @staticmethod
    def key(kind, name, namespace):
        return kind, namespace or "", name

    def read(self, api_version, kind, name, namespace=None):
        obj = self.objects.get(self.key(kind, name, namespace))
        return copy.deepcopy(obj) if obj else None

    def apply(self, body):
        meta = body["metadata"]
        stored = copy.deepcopy(body)
        stored["metadata"]["uid"] = "uid-1"
        self.objects[self.key(body["kind"], meta["name"], meta.get("namespace"))] = stored
        return stored

    def delete(self, api_version, kind, name, namespace=None):
        return self.objects.pop(self.key(kind, name, namespace), None) is not None

    def wait_gone(self, *args, **kwargs):
        pass

    def wait_deployments_ready(self, names, namespace, timeout=300):
        never = [name for name in names if name in self.never_ready]
        if never:
            raise LabError("; ".join(f"deployment {namespace}/{name} never became ready" for name in never))
