"""One variant measured: image sizes, cold starts, idle memory, the in-cluster load, memory after
it and the image-removed start (lab.bench runs this for each chosen variant), and its density
(lab.bench runs that for every variant last: fifty pods starting load the machine for a while,
which would disturb the variants measured after them)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lab import catalog
from lab.bench import coldstart, density, incluster, load, memory, node_images, report, targets
from lab.bench.results import BenchResult, VariantResult
from lab.bench.settings import BenchSettings
from lab.errors import LabError
from lab.proc import console

if TYPE_CHECKING:
    from lab.bench import BenchRun


def measure(run: BenchRun, target) -> None:
    """Every measure of one variant, in the order docs/bench.md gives; the run records the
    Deployments scaled (`run.touched`) and the images taken out of a node (`run.unloaded`), and
    puts both back."""
    kube, lab, clients, result, plan = run.kube, run.lab, run.clients, run.result, run.settings
    name = target.variant
    vr = result.variants[name]
    console.print(f"[bold]▶ {name}[/bold] ({target.deployment}, {target.host}:{target.port}, {target.image})")
    if target.port is None:
        vr.notes.append("its Service has no NodePort: skipped")
        return
    try:
        pod = targets.running_pod(kube, target, timeout=60)
    except LabError as error:
        vr.notes.append(f"skipped: {error}")
        console.print(f"  [yellow]skipped[/yellow]: {error}")
        return
    vr.node = node_name = pod.spec.node_name

    with console.status(f"{name}: image sizes"):
        vr.image_size, notes = node_images.image_size(kube, vr.node, target.image, cache=_GZIP_CACHE)
    vr.notes += notes
    # Cold starts first: the pod they leave is fresh (it has answered only the probes and the
    # first GET), so "idle" means the same thing for every variant and every run.
    run.touched.append(target)
    for index in range(plan.repeat):
        kind = "first" if index == 0 else "repeat"
        with console.status(f"{name}: cold start {index + 1}/{plan.repeat}"):
            outcome = coldstart.cold_start(kube, target, index, kind, path=plan.path, node_of=lab.node,
                                           expected_node=vr.node)
        vr.cold_start.append(outcome)
        _print_run(outcome)
        if outcome.error:
            break
    try:
        pod = targets.running_pod(kube, target, timeout=60)
    except LabError as error:
        vr.notes.append(f"no pod after the cold starts: {error}")
        return

    with console.status(f"{name}: idle memory of the fresh pod (waiting for a kubelet sample)"):
        vr.memory["idle"], note = memory.wait_memory(kube, vr.node, target.namespace, pod.metadata.name,
                                                      not_before=time.time(), timeout=40)
    if note:
        vr.notes.append(f"idle memory: {note}")

    _load(clients, target, vr, pod, plan, run.stop)
    with console.status(f"{name}: memory after load (waiting for a fresh kubelet sample)"):
        vr.memory["after_load"], note = memory.wait_memory(kube, vr.node, target.namespace, pod.metadata.name,
                                                            not_before=time.time() - 1, timeout=40)
    if note:
        vr.notes.append(f"memory after load: {note}")

    if plan.image_removed:
        # pulled from the lab registry, it comes back the way it came: the kubelet pulls it in the start
        pulled = lab.spec.pulls_images or catalog.load().variants[name].delivery == "artifact"
        reason = _cannot_remove(lab, vr.node, target.image, pulled)
        if reason:
            vr.notes.append(f"image-removed run skipped: {reason}")
            console.print(f"  image-removed run skipped: {reason}")
            return
        node = lab.node(vr.node)

        def reload():
            node_images.remove_image(node, target.image)
            if pulled:
                return None
            run.unloaded.append((node_name, target.image))
            seconds = lab.load_back(node_name, target.image)
            run.unloaded.remove((node_name, target.image))
            return seconds

        how = "pulled from the registry in the start" if pulled else "loaded back"
        with console.status(f"{name}: image removed from {vr.node}, {how}, cold start"):
            outcome = coldstart.cold_start(kube, target, plan.repeat, "image-removed", path=plan.path,
                                           before_start=reload, node_of=lab.node, expected_node=vr.node)
        vr.cold_start.append(outcome)
        _print_run(outcome)


def measure_density(kube, target, result: BenchResult, plan: BenchSettings) -> None:
    name, vr = target.variant, result.variants[target.variant]
    for replicas in plan.density:
        with console.status(f"{name}: {replicas} replicas, waiting for all Ready and a memory sample"):
            run = density.density(kube, target, replicas, result.lab)
        vr.density.append(run)
        console.print(f"  {name} density {replicas}: {run.ready} Ready in {report.seconds(run.seconds_to_ready)}s, "
                      f"node memory per pod {report.mib(run.per_pod_node_bytes)} MiB"
                      + (f", failed {run.failed}" if run.failed else "") + (f" ({run.error})" if run.error else ""))


def _load(clients: incluster.InClusterLoad, target, vr: VariantResult, pod, plan: BenchSettings, stop) -> None:
    """wrk at the pod IP at every level (each against its ceiling), then at the ClusterIP and the
    host's client through the NodePort at the highest level."""
    node, name = pod.spec.node_name, target.variant
    for level in plan.levels:
        if stop.is_set():
            return
        with console.status(f"{name}: calibrating wrk at {level} connections on {node}"):
            ceiling = clients.ceiling(node, level, plan.duration)
        with console.status(f"{name}: wrk, {level} connections, {plan.duration:g}s at the pod IP"):
            measured = clients.run(node, f"http://{pod.status.pod_ip}:{target.container_port}{plan.path}", level,
                                   plan.duration, "pod-ip")
        vr.load.append(incluster.mark_client_bound(measured, ceiling))
        _print_level("pod IP", measured)
    top = max(plan.levels)
    if target.cluster_ip and target.service_port:
        with console.status(f"{name}: wrk, {top} connections at the ClusterIP"):
            measured = clients.run(node, f"http://{target.cluster_ip}:{target.service_port}{plan.path}", top,
                                   plan.duration, "service")
        vr.load_service.append(incluster.mark_client_bound(measured, clients.ceilings.get((node, top))))
        _print_level("ClusterIP", measured)
    with console.status(f"{name}: the host's client, {top} concurrent, through the NodePort"):
        measured = load.run_level(target.port, top, plan.requests, plan.duration, path=plan.path, stop=stop,
                                  host=target.host)
    vr.load_nodeport.append(measured)
    _print_level("NodePort (host client)", measured)


def _print_level(where: str, level) -> None:
    lat = level.latency_ms
    bound = " [yellow]client-bound[/yellow]" if level.client_bound else ""
    console.print(f"  {where:>22}, {level.concurrency:>3} concurrent: {level.throughput:8.0f} req/s  "
                  f"p50 {report.ms(lat.get('p50'))} ms  p99 {report.ms(lat.get('p99'))} ms  errors {level.errors}"
                  + (f"  (ceiling {level.ceiling:.0f})" if level.ceiling else "") + bound)


_GZIP_CACHE: dict = {}


def _cannot_remove(lab, node_name, ref, pulled: bool) -> str | None:
    """Why the image-removed run cannot be done here, or None."""
    if lab.node(node_name) is None:
        return f"node {node_name} is not one the lab reaches"
    if pulled:
        return None
    try:
        from lab.docker_api import docker_client

        docker_client().images.get(ref)
    except Exception as error:
        return f"{ref} is not in the host's Docker ({error.__class__.__name__}), so it could not be loaded back"
    return None


def _print_run(outcome) -> None:
    if outcome.error:
        console.print(f"  [red]cold start {outcome.index} ({outcome.kind}) failed[/red]: {outcome.error}")
        return
    s, spans = outcome.seconds, outcome.spans()
    load_part = f"image load {outcome.image_load_seconds:.2f}s, " if outcome.image_load_seconds is not None else ""
    late = " (probe late: upper bound)" if outcome.probe.get("late") else ""
    console.print(f"  cold start {outcome.index} ({outcome.kind}): {load_part}container started "
                  f"{report.seconds(s.get('container_started'))}s, 200 at the pod IP {report.seconds(s.get('pod_ip_200'))}s "
                  f"(+{report.ms_of(spans['started to first 200'])} ms{late}), Ready {report.seconds(s.get('ready'))}s, "
                  f"200 via NodePort {report.seconds(s.get('http_200'))}s")
