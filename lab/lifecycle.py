"""lab.up, lab.down and lab.status over the pipeline, the state file and the provider."""
from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab import artifacts, catalog, engines, providers, registry, settled
from lab.actions import FAST_REST, UP
from lab.actions.cluster import EnsureCluster, made_by_lab
from lab.actions.runtimeclasses import CreateRuntimeClasses
from lab.actions.runtimes import InstallRuntimes
from lab.artifacts.host import host_arch
from lab.errors import LabError
from lab.kube import Kube
from lab.lock import LockFile
from lab.pipeline import Context, finish_waits_beside, flat, nodes_released, run_actions
from lab.proc import console
from lab.spec import LabSpec
from lab.state import State


def run(spec: LabSpec, actions, reuse_settled: bool = False) -> Context:
    # said before anything is created: a corrupt lab.lock, an architecture upstream does not build for,
    # a lock entry or mirror that puts a release older than the lab accepts in place
    LockFile.load(Path(spec.lock))
    host_arch()
    artifacts.refuse_old_releases(spec)
    provider = providers.get(spec.provider)
    provider.preflight(spec)  # e.g. an unknown --context: said before any artifact is built
    state = State(spec.name)
    with state.lock(" ".join(a.name for a in actions)):
        state.set("spec", {"provider": spec.provider, "namespace": spec.namespace})
        recorded = state.get(settled.RECORD)
        state.set(settled.RECORD, None)  # taken away before anything may change, back only once all is done
        ctx = Context(spec=spec, state=state, provider=provider)
        proof = settled.ProveUnchanged(recorded) if reuse_settled and settled.readable(recorded) else None
        if proof is not None:
            run_actions(ctx, [proof])
        if proof is not None and proof.unchanged:
            run_actions(ctx, FAST_REST, given_before=proof.gives)
            state.set(settled.RECORD, recorded)
        else:
            # what the actions are about to use: a source edited while they build is not what they built
            sources = settled.sources_digest(spec) if reuse_settled else ""
            run_actions(ctx, actions)
            if reuse_settled:
                with nodes_released(ctx):
                    left = settled.record(ctx)
                if settled.sources_digest(spec) == sources:
                    state.set(settled.RECORD, left)
                else:
                    console.print("the lab's inputs changed while lab.up ran: the next lab.up runs every action")
    return ctx


def up(spec: LabSpec) -> Context:
    """The whole pipeline, or, when the lab is proved as the last complete lab.up left it, only
    its checks (lab/settled.py)."""
    return run(spec, UP, reuse_settled=True)


# what only an undo inside the cluster takes back: the records of the actions that need it
IN_CLUSTER_RECORDS = tuple(dict.fromkeys(key for action in flat(UP) if action.in_cluster for key in action.records))


def connect(ctx: Context) -> bool:
    """Reach the lab's cluster again for an undo (never creates one); False when it is gone."""
    if not ctx.provider.exists(ctx.spec):
        return False
    recorded = tuple(r for r in catalog.load().runtimes if r in ctx.state.get("runtimes_installed", []))
    # the runtimes the lab installed, whatever --runtime says now (a node check must not refuse them)
    spec = replace(ctx.spec, runtimes=recorded or ctx.spec.runtimes)
    ctx.cluster = ctx.provider.ensure(spec, None, ctx.state)
    ctx.kube = Kube(ctx.cluster.kubeconfig, ctx.cluster.context)
    return True


def uninstall_runtimes(spec: LabSpec) -> list[str]:
    """Take the spec's runtimes off the nodes the lab installed them on: containerd config
    restored, files, labels, and the RuntimeClasses the lab made."""
    state = State(spec.name)
    with state.lock("runtimes.uninstall"):
        settled.forget(state)
        ctx = Context(spec=spec, state=state, provider=providers.get(spec.provider))
        if not connect(ctx):
            return []
        classes, runtimes = CreateRuntimeClasses(), InstallRuntimes()
        with nodes_released(ctx):
            with state.declared(classes):
                removed = classes.undo(ctx, spec.runtimes)
            with state.declared(runtimes):
                removed += runtimes.undo(ctx, spec.runtimes)
            return removed + finish_waits_beside(ctx)


def delete_cluster(spec: LabSpec) -> list[str]:
    """cluster.delete: lab.down's own undo of the cluster action, alone. The cluster goes only when
    this lab made it and it is still the one it made; any other is refused in lab.down's line."""
    state = State(spec.name)
    with state.lock("cluster.delete"):
        settled.forget(state)
        ctx = Context(spec=spec, state=state, provider=providers.get(spec.provider))
        refusal = EnsureCluster.not_the_labs(ctx.provider, spec, state)
        if refusal:
            raise LabError(refusal)
        cluster = EnsureCluster()
        with nodes_released(ctx), state.declared(cluster):
            return cluster.undo(ctx)


def down(spec: LabSpec, purge: bool = False) -> list[str]:
    """The pipeline backwards: each action takes back what it recorded, and only that. A cluster
    the lab made goes whole; in any other, the lab's objects, runtimes and images are undone. The
    lab registry's storage stays for the next lab.up (lab/registry.py) unless `purge`."""
    state = State(spec.name)
    removed = []
    with state.lock("lab.down"):
        ctx = Context(spec=spec, state=state, provider=providers.get(spec.provider))
        cluster_goes = ctx.provider.creates_clusters and made_by_lab(state)
        left = ctx.provider.creates_clusters and EnsureCluster.not_the_labs(ctx.provider, spec, state)
        if left:
            console.print(left, soft_wrap=True, markup=False)
        # nothing recorded inside the cluster: no need to reach it
        reachable = None if any(state.get(key) for key in IN_CLUSTER_RECORDS) else False
        # one way into each node for every undo (an installer pod started once, not once per undo)
        with nodes_released(ctx):
            for action in reversed(flat(UP)):
                if action.in_cluster:
                    if cluster_goes:
                        continue
                    if reachable is None:
                        reachable = connect(ctx)
                    if not reachable:
                        continue
                started = time.monotonic()
                with state.declared(action):
                    undone = action.undo(ctx)
                removed += undone
                if undone:
                    console.print(f"  [green]↩[/green] {action.name}: {len(undone)} undone "
                                  f"[dim]({time.monotonic() - started:.1f}s)[/dim]")
            if ctx.waits_beside:
                started, waits = time.monotonic(), [w.what for w in ctx.waits_beside]
                removed += finish_waits_beside(ctx)
                console.print(f"  [green]↩[/green] waited for {', '.join(waits)} "
                              f"[dim]({time.monotonic() - started:.1f}s more)[/dim]", soft_wrap=True)
        if ctx.provider.registry_network:
            removed += registry_storage_after_down(spec.name, purge)
        if (state.dir / "state.json").is_file():
            shutil.rmtree(state.dir)
            removed.append(f"state and kubeconfig in {state.dir}")
    return removed


def registry_storage_after_down(lab: str, purge: bool) -> list[str]:
    if purge:
        return [f"registry storage volume {registry.storage_name(lab)}"] if registry.remove_storage(lab) else []
    if registry.storage_kept(lab):
        console.print(f"kept the registry storage volume {registry.storage_name(lab)} (what lab.up pushed, for the "
                      f"next lab.up to find); `lab.down --purge` removes it", soft_wrap=True, markup=False)
    return []


def status(spec: LabSpec) -> dict:
    state = State(spec.name)
    provider = providers.get(spec.provider)
    info = {"name": spec.name, "cluster": "absent", "actions": state.get("actions", {}),
            "runtimes": state.get("runtimes_installed", []), "variants": {}, "execution": {}, "engines": {}}
    if not provider.exists(spec) or not state.get("kubeconfig"):
        return info
    info["cluster"] = "present"
    kube = Kube(state.get("kubeconfig"))
    namespace = state.get("namespace", spec.namespace)
    deployments: list[Any] = kube.apps.list_namespaced_deployment(
        namespace, label_selector="app.kubernetes.io/part-of=wasm-lab").items
    known = catalog.load().variants
    for deployment in deployments:
        variant = deployment.metadata.labels.get("wasm-lab.dev/variant", deployment.metadata.name)
        info["variants"][variant] = f"{deployment.status.ready_replicas or 0}/{deployment.spec.replicas} ready"
        if variant in known:
            info["execution"][variant] = known[variant].execution_label
    info["engines"] = engines.of_variants([v for v in info["variants"] if v in known], state)
    return info
