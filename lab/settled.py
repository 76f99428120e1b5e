"""An unchanged re-run of lab.up: what the last complete lab.up left is recorded at its end, and
the next lab.up proves it still so — every proof side by side — before it skips to the checks.
Any difference (or a proof that cannot be made) means the whole pipeline runs.

The WASI Jobs are not run again there: a Job that has run to its end stays as it ended, so the
same Jobs (their uids), of the same images on the same runtimes and containerd, are the answers
the last lab.up judged; the report shows those answers and says when they were judged.

The record is taken away before any action runs and written back only when a lab.up has passed
its checks, so a run that was interrupted, failed, or changed the lab some other way (another
collection, runtimes.uninstall) is never taken for settled."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import docker

from lab import REPO_ROOT, artifacts, catalog, containerd, jobs, node_runtimes, registry
from lab.actions.images import local_tags
from lab.docker_api import docker_client
from lab.kit.store import kit_dir
from lab.kube import Kube, rollout_complete

RECORD = "settled"   # state key: the record of the last complete lab.up (None while anything may change)
# What the lab's code and data are made of: a change to any of them is a change of the lab.
INPUT_FOLDERS = ("lab", "clusters", "images/httpbin", "workloads/httpbin")
LEFT_OUT = ("target", "__pycache__")
NODE_SCRIPT = ('systemctl show -p ExecMainStartTimestamp --value containerd; echo "--- files"; '
               'sha256sum "$@" 2>&1; echo "--- dump"; containerd config dump')


def forget(state) -> None:
    """Before a command changes the lab: the next lab.up runs every action."""
    if state.get(RECORD):
        state.set(RECORD, None)


def inputs_digest(spec) -> str:
    """One sha256 over what a lab.up is made from: its sources (sources_digest), lab.lock and the
    kit's manifest (both of which a lab.up may write itself: the pins it used, a kit_from import)."""
    digest = hashlib.sha256(sources_digest(spec).encode())
    for path in (Path(spec.lock), kit_dir() / "manifest.json"):
        digest.update(f"\0{path}\0".encode() + (path.read_bytes() if path.is_file() else b"-"))
    return digest.hexdigest()


def sources_digest(spec) -> str:
    """One sha256 over the spec and the lab's code and data (its workload sources, Dockerfile,
    manifests, catalog): what a user edits, and a lab.up never writes."""
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str).encode())
    for folder in INPUT_FOLDERS:
        for path in sorted((REPO_ROOT / folder).rglob("*")):
            if path.is_file() and not any(part in LEFT_OUT for part in path.parts):
                digest.update(f"\0{path.relative_to(REPO_ROOT)}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def bundle_marks(runtimes) -> list[str]:
    """The digest mark of every bundle these runtimes may have placed on a node: their own, and
    those their files' origins need (which origin was taken is not known without resolving)."""
    table = artifacts.catalog()
    names = [name for runtime in runtimes for name in runtime.bundles]
    names += [name for runtime in runtimes for item in runtime.files
              for origin in table["artifacts"][item["source"]] for name in origin.get("needs", ())]
    return [f"{table['bundles'][name]['dest']}/{node_runtimes.BUNDLE_MARK}" for name in dict.fromkeys(names)]


def node_facts(node, spec) -> dict:
    """When containerd last started on a wasm node, the sha256 of its runtime files and of the
    marks of the bundles they need (a runtime such as crun-wasmedge is its bundle), and whether its
    `containerd config dump` offers each of the spec's runtimes (one exec)."""
    runtimes = [catalog.load().runtimes[r] for r in spec.runtimes]
    files = sorted({item["dest"] for runtime in runtimes for item in runtime.files} | set(bundle_marks(runtimes)))
    out = node.run(["sh", "-c", NODE_SCRIPT, "settled", *files], check=False).stdout
    started, _, rest = out.partition("--- files\n")
    sums, _, dump = rest.partition("--- dump\n")
    offered: dict[str, Any]
    try:
        offered = {r.handler: containerd.dump_has_runtime(dump, node_runtimes.runtime_entry(r)) for r in runtimes}
    except Exception as error:  # a dump that cannot be read proves nothing
        offered = {"dump": f"unreadable ({error.__class__.__name__})"}
    return {"containerd_started": started.strip(), "files": sums.strip(), "offered": offered}


def image_ids(refs) -> dict[str, str | None]:
    client = docker_client()

    def image_id(ref):
        try:
            return client.images.get(ref).id
        except docker.errors.ImageNotFound:
            return None
    return {ref: image_id(ref) for ref in sorted(refs)}


def registry_running(spec) -> bool | None:
    """Whether the lab's registry container runs (None: this lab has no registry container)."""
    if not (spec.provider == "kind" and spec.pulls_artifacts):
        return None
    try:
        return docker_client().containers.get(registry.container_name(spec.name)).status == "running"
    except docker.errors.NotFound:
        return False


def deployments(kube: Kube, spec) -> dict[str, dict]:
    """Each variant's Deployment: its uid (a Deployment deleted and made again by hand starts over
    at generation 1), its generation (bumped by any change to it), whether the controller has seen
    that generation and its rollout is complete, and the images it runs."""
    listed: list[Any] = kube.apps.list_namespaced_deployment(
        spec.namespace, label_selector="app.kubernetes.io/part-of=wasm-lab").items
    found = {}
    for item in listed:
        found[item.metadata.name] = {
            "uid": item.metadata.uid,
            "generation": item.metadata.generation,
            "settled": rollout_complete(item),
            "images": [c.image for c in item.spec.template.spec.containers]}
    return {f"httpbin-{v}": found.get(f"httpbin-{v}", {}) for v in spec.variants}


def job_uids(kube: Kube, spec) -> dict[str, str | None]:
    """The uid of each WASI Job this lab runs (None: it is gone). A Job made again, by the lab or
    by hand, has another uid and has not been judged."""
    listed: list[Any] = kube.batch.list_namespaced_job(spec.namespace, label_selector=jobs.SELECTOR).items
    found = {item.metadata.name: item.metadata.uid for item in listed}
    names = [jobs.job_name(runner, code) for runner in catalog.load().jobs_for(spec.runtimes) for code in jobs.EXIT_CODES]
    return {name: found.get(name) for name in names}


def runtime_classes(kube: Kube, spec) -> list[str]:
    handlers = {catalog.load().runtimes[r].handler for r in spec.runtimes}
    listed: list[Any] = kube.node_api.list_runtime_class().items
    return sorted(rc.metadata.name for rc in listed if rc.metadata.name in handlers)


def facts(ctx) -> dict:
    """Everything the record holds, read side by side; ctx.cluster and ctx.kube must be set."""
    spec, cluster, kube = ctx.spec, ctx.cluster, ctx.kube
    local = sorted(set(local_tags(spec).values()))  # this lab's, not every tag it ever used
    reads: dict[str, Callable[[], Any]] = {
        "inputs": lambda: inputs_digest(spec),
        "cluster_id": lambda: ctx.provider.identity(spec),
        "image_ids": lambda: image_ids(local),
        "registry_running": lambda: registry_running(spec),
        "deployments": lambda: deployments(kube, spec),
        "jobs": lambda: job_uids(kube, spec),
        "runtime_classes": lambda: runtime_classes(kube, spec),
    }
    for node in cluster.wasm_nodes:
        reads[f"node {node.name}"] = partial(node_facts, node, spec)
    with ThreadPoolExecutor(max_workers=len(reads), thread_name_prefix="settled") as pool:
        futures: dict[str, Future] = {key: pool.submit(read) for key, read in reads.items()}
        return {key: future.result() for key, future in futures.items()}


def record(ctx) -> dict:
    """The record a complete lab.up leaves: the facts, the images the nodes run (ctx.images), and
    the WASI Jobs' answers as this lab.up judged them (ctx.jobs) and when."""
    return {"facts": facts(ctx), "images": dict(ctx.images), "jobs": dict(ctx.jobs),
            "jobs_judged_at": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def broken(found: dict) -> list[str]:
    """What in a set of facts is not a working lab, whatever was recorded: a Deployment not
    settled, a runtime not offered, a registry not running, an image gone."""
    reasons = [f"deployment {name} is not settled" for name, d in found["deployments"].items() if not d.get("settled")]
    for key, node in found.items():
        if key.startswith("node "):
            reasons += [f"{key[5:]}: containerd does not offer {handler}" for handler, ok in node["offered"].items()
                        if ok is not True]
    if found["registry_running"] is False:
        reasons.append("the lab registry is not running")
    reasons += [f"image {ref} is gone" for ref, image in found["image_ids"].items() if image is None]
    reasons += [f"job {name} is gone" for name, uid in found["jobs"].items() if uid is None]
    return reasons


def differences(recorded: dict, found: dict) -> list[str]:
    """Why the lab is not as the last complete lab.up left it (empty: it is)."""
    reasons = broken(found)
    return reasons + [f"{key} changed" for key in sorted(set(recorded) | set(found)) if recorded.get(key) != found.get(key)]


def readable(recorded) -> bool:
    """Whether a record from the state file has the shape record() gives (one an older or a hand-
    edited state file holds otherwise is no record: every action runs). The Jobs' rows are
    reported as they are, so each must be a row: a case named and passed or not."""
    def rows(jobs) -> bool:
        return isinstance(jobs, dict) and all(
            isinstance(runner, list) and all(isinstance(row, dict) and isinstance(row.get("case"), str)
                                             and isinstance(row.get("passed"), bool) for row in runner)
            for runner in jobs.values())
    return isinstance(recorded, dict) and isinstance(recorded.get("facts"), dict) \
        and isinstance(recorded.get("images"), dict) and rows(recorded.get("jobs")) \
        and isinstance(recorded.get("jobs_judged_at"), str)


class ProveUnchanged:
    """The first action of a lab.up that finds a record: the cluster reached read-only, and every
    fact of the record read again and compared. `unchanged` says which list runs next; when it
    is, the WASI Jobs' answers are the record's."""
    name = "unchanged"
    title = "prove the lab is as the last complete lab.up left it (side by side), then only the checks run"
    in_cluster = False
    needs, gives = (), ("cluster", "kube", "images", "jobs")
    records, notes = (), ()

    def __init__(self, recorded: dict):
        self.recorded = recorded
        self.unchanged = False

    def execute(self, ctx) -> str:
        spec = ctx.spec
        if not ctx.provider.exists(spec):
            return f"{ctx.provider.name} cluster {spec.name} is gone: every action runs"
        ctx.cluster = ctx.provider.attach(spec, ctx.state)
        ctx.kube = Kube(ctx.cluster.kubeconfig, ctx.cluster.context or None)
        reasons = differences(self.recorded["facts"], facts(ctx))
        if reasons:
            ctx.cluster.close_nodes()
            ctx.cluster = ctx.kube = None
            return f"{'; '.join(reasons[:3])}: every action runs"
        ctx.images = dict(self.recorded["images"])
        ctx.jobs, ctx.jobs_judged_at = dict(self.recorded["jobs"]), self.recorded["jobs_judged_at"]
        self.unchanged = True
        return (f"reused {ctx.provider.name} cluster {spec.name} unchanged since the last lab.up (inputs, runtimes in "
                f"containerd, image ids, {len(spec.variants)} Deployments settled, the WASI Jobs judged at "
                f"{ctx.jobs_judged_at}): the checks run")

    def undo(self, ctx) -> list[str]:
        return []
