"""lab.bench: measure the native variant against the wasm variants of a running lab, and show it
(one variant's measures are in lab/bench/variant.py).

`run(spec, variants, repeat, ...)` waits for a quiet machine (bounded), then measures, per
variant: image sizes, cold starts (repeated, the first reported apart, each cut into spans by a
probe in the node), idle memory, throughput and latency from wrk in a pod at the pod IP (every
level, against a calibrated ceiling), at the ClusterIP and through the NodePort (highest level),
memory after that load and one start after the image was removed from the node; then, for every
variant, density at N replicas. It writes bench.json (schema:
lab.bench.results), bench.md and bench.html. However it ends, every Deployment it scaled is put
back to its applied replicas and waited for, and the bench's own pods are deleted."""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from kubernetes.client.exceptions import ApiException

from lab import catalog, engines
from lab.bench import density, incluster, node_images, page, probe, report, targets, variant
from lab.bench.results import BenchResult, VariantResult, from_dict
from lab.bench.variant import DEFAULT_CONCURRENCIES, DEFAULT_DENSITY
from lab.errors import InputError, LabError
from lab.proc import CommandFailed, console
from lab.state import State
from lab.waits import wait_until

LOADED = 0.5    # load average per CPU above which the machine is busy (waited for, then noted)
QUIET_WAIT = 120.0


def _cpu_times() -> list[int] | None:
    try:
        return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None


def steal_percent(start: list[int] | None, end: list[int] | None) -> float | None:
    """Share of CPU time the hypervisor gave to others between two /proc/stat readings (pure)."""
    if not start or not end or len(start) < 8 or len(end) < 8:
        return None
    total = sum(end) - sum(start)
    return round(100 * (end[7] - start[7]) / total, 2) if total > 0 else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


class LabCluster:
    """The running lab as the bench reaches it, whatever its provider: the API, the nodes, and a
    way to load an image back into one node."""

    def __init__(self, spec):
        from lab import providers

        self.spec = spec
        self.provider = providers.get(spec.provider)
        self.state = State(spec.name)
        self.cluster = self.provider.attach(spec, self.state)

    def node(self, name: str):
        return next((n for n in self.cluster.nodes if n.name == name), None)

    def load_back(self, node_name: str, ref: str) -> float:
        """Load `ref` from the host's Docker into one node the way lab.up did; the seconds it took."""
        started = time.monotonic()
        self.provider.load_images(dataclasses.replace(self.cluster, wasm_nodes=[self.node(node_name)]), [ref])
        return round(time.monotonic() - started, 3)

    def pod_image(self, ref: str) -> str:
        """The name a pod uses for an image loaded with load_back (a registry's, when the
        provider pushes there)."""
        names = self.provider.pulled_names(self.spec, [ref])
        return names[0] if names else ref

    def close(self) -> None:
        self.cluster.close_nodes()


def check_density(values) -> tuple[int, ...]:
    try:
        levels = tuple(int(n) for n in values)
    except (TypeError, ValueError):
        raise InputError(f"density: {list(values)} are not whole numbers from 1 to 100")
    for n in levels:
        if not 1 <= n <= 100:
            raise InputError(f"density: {n} is outside 1..100")
    return levels


def _number(field: str, value, kind, what: str):
    """An option's value as `kind` (int or float); anything else is one line naming the option."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise InputError(f"{field}: {value!r} is not {what}")


def check_settings(repeat, concurrencies, requests, duration) -> tuple[int, ...]:
    repeat = _number("repeat", repeat, int, "a whole number from 1 to 50")
    requests = _number("requests", requests, int, "a whole number from 1 to 1000000")
    duration = _number("duration", duration, float, "a number of seconds from 0 to 600")
    if not 1 <= repeat <= 50:
        raise InputError(f"repeat: {repeat} is outside 1..50")
    try:
        levels = tuple(int(c) for c in concurrencies) or DEFAULT_CONCURRENCIES
    except (TypeError, ValueError):
        raise InputError(f"concurrency: {list(concurrencies)} are not whole numbers from 1 to 256")
    for level in levels:
        if not 1 <= level <= 256:
            raise InputError(f"concurrency: {level} is outside 1..256")
    if not 1 <= requests <= 1_000_000:
        raise InputError(f"requests: {requests} is outside 1..1000000")
    if not 0 < duration <= 600:
        raise InputError(f"duration: {duration} is outside 0..600 seconds")
    return levels


def write(result: BenchResult, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"json": directory / "bench.json", "markdown": directory / "bench.md", "html": directory / "bench.html"}
    paths["json"].write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    paths["markdown"].write_text(report.markdown(result))
    paths["html"].write_text(page.html(result))
    return paths


def read_result(json_path: Path, field: str = "report") -> BenchResult:
    """A bench.json read back; bad input names the option it came from."""
    try:
        data = json.loads(Path(json_path).read_text())
    except FileNotFoundError:
        raise InputError(f"{field}: {json_path} does not exist")
    except json.JSONDecodeError as error:
        raise InputError(f"{field}: {json_path} is not JSON ({error.msg})")
    try:
        return from_dict(data)
    except (ValueError, TypeError, KeyError) as error:
        raise InputError(f"{field}: {json_path}: {error}")


def render(json_path: Path, directory: Path | None = None) -> tuple[BenchResult, dict[str, Path]]:
    """Re-render bench.md and bench.html from a bench.json."""
    result = read_result(json_path)
    return result, write(result, Path(directory) if directory else Path(json_path).parent)


class _NoInterrupt:
    """Defer Ctrl-C while the cluster is being put back (a second Ctrl-C would leave it half-done)."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def run(spec, variants=None, repeat: int = 5, concurrencies=DEFAULT_CONCURRENCIES, requests: int = 2000,
        duration: float = 10.0, image_removed: bool = True, output: str | Path | None = None,
        path: str = "/get", density_levels=DEFAULT_DENSITY, density_variants=None,
        loadgen_image: str | None = None, quiet_wait: float = QUIET_WAIT) -> tuple[BenchResult, dict[str, Path]]:
    levels = check_settings(repeat, concurrencies, requests, duration)
    quiet_wait = _number("quiet-wait", quiet_wait, float, "a number of seconds")
    plan = variant.Plan(repeat=int(repeat), levels=levels, requests=int(requests), duration=float(duration),
                image_removed=image_removed, path=path, density=check_density(density_levels),
                density_variants=tuple(density_variants) if density_variants else None)
    from lab.kube import Kube

    lab = LabCluster(spec)
    try:
        try:
            kube = Kube(lab.cluster.kubeconfig, lab.cluster.context or None)
        except Exception as error:
            raise LabError(f"cannot use the kubeconfig {lab.cluster.kubeconfig}: {error.__class__.__name__}: {error}")
        namespace = lab.state.get("namespace", spec.namespace)
        try:
            found = targets.discover(kube, namespace)
        except Exception as error:
            raise LabError(f"cannot list the lab's deployments in namespace {namespace}: {error.__class__.__name__}: "
                           f"{str(error).splitlines()[0] if str(error) else ''}")
        if not found:
            raise LabError(f"no wasm-lab variants are deployed in namespace {namespace}: run `invoke lab.up` first")
        order = list(catalog.load().variants)
        deployed = sorted(found, key=lambda v: (order.index(v) if v in order else len(order), v))
        wanted = list(dict.fromkeys(variants or deployed))
        unknown = [v for v in wanted + list(plan.density_variants or ()) if v not in found]
        if unknown:
            raise InputError(f"variant: {unknown[0]!r} is not deployed; choose from: {', '.join(deployed)}")
        chosen = [dataclasses.replace(found[v], host=lab.cluster.check_host) for v in wanted]
        image = loadgen_image or _loadgen_image(spec)
        result = BenchResult(
            lab=spec.name, started=_now(),
            settings={"variants": wanted, "repeat": plan.repeat, "concurrencies": list(plan.levels),
                      "requests": plan.requests, "duration": plan.duration, "path": path,
                      "image_removed": image_removed, "namespace": namespace, "density": list(plan.density),
                      "density_variants": list(plan.density_variants or wanted),
                      "client": f"wrk in a pod ({image}); the NodePort figure: the host's threads + http.client",
                      "probe_interval_ms": probe.INTERVAL * 1000},
            host={"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()})
        result.host["waited_for_quiet"] = _wait_for_quiet(float(quiet_wait)) if float(quiet_wait) > 0 else 0.0
        result.host["loadavg_start"] = _loadavg()
        cpu_start = _cpu_times()
        loaded = (result.host["loadavg_start"] or [0])[0] / (os.cpu_count() or 1)
        if loaded > LOADED:
            result.notes.append(f"the machine was busy when the bench started: load average "
                                f"{result.host['loadavg_start'][0]} on {os.cpu_count()} CPU(s)")
        directory = Path(output) if output else Path(spec.results_dir)
        touched: list[targets.Target] = []
        unloaded: list[tuple[str, str]] = []
        stop = threading.Event()
        node_names = [n.name for n in lab.cluster.nodes]
        loaded_into: list[str] = []

        def load_tool_image(node: str) -> None:
            lab.load_back(node, image)
            loaded_into.append(node)

        clients = incluster.InClusterLoad(kube, namespace, spec.name, lab.pod_image(image), node_names,
                                          load_image=load_tool_image)
        density.remove_copies(kube, namespace, spec.name)
        ran_on = engines.of_variants([t.variant for t in chosen], lab.state)
        try:
            for target in chosen:
                result.variants[target.variant] = VariantResult(
                    variant=target.variant, deployment=target.deployment, port=target.port, image=target.image,
                    runtime_class=target.runtime_class, packaging=_from_catalog(target.variant, "packaging"),
                    execution=_from_catalog(target.variant, "execution"), engine=ran_on.get(target.variant))
                try:
                    variant.measure(kube, lab, clients, target, result, plan, stop, touched, unloaded)
                except (LabError, CommandFailed, ApiException) as error:
                    # One variant's failure is a note; the others are still measured.
                    message = str(error).splitlines()[0] if str(error) else error.__class__.__name__
                    result.variants[target.variant].notes.append(f"stopped: {message}")
                    console.print(f"  [red]{target.variant} stopped[/red]: {message}")
                if target in touched:
                    # Back to its applied state before the next variant is measured.
                    with console.status(f"{target.variant}: back to {target.replicas} replica(s)"):
                        result.variants[target.variant].notes += targets.restore(kube, [target])
            for target in chosen:
                if plan.density and target.variant in (plan.density_variants or wanted):
                    try:
                        variant.measure_density(kube, target, result, plan)
                    except (LabError, ApiException) as error:
                        message = str(error).splitlines()[0] if str(error) else error.__class__.__name__
                        result.variants[target.variant].notes.append(f"density stopped: {message}")
                        console.print(f"  [red]{target.variant} density stopped[/red]: {message}")
        except KeyboardInterrupt:
            stop.set()
            result.interrupted = True
            console.print("[yellow]interrupted: putting the lab back as it was[/yellow]")
            raise
        finally:
            with _NoInterrupt():
                stop.set()
                for node_name, ref in unloaded:
                    try:
                        lab.load_back(node_name, ref)
                    except Exception as error:
                        result.notes.append(f"could not load {ref} back into {node_name}: {error}")
                try:
                    clients.close()
                    density.remove_copies(kube, namespace, spec.name)
                except Exception as error:
                    result.notes.append(f"could not delete the bench's own pods: {error}")
                if not lab.provider.creates_clusters:
                    # A cluster the lab did not create keeps nothing of the bench's own.
                    for node_name in loaded_into:
                        try:
                            node_images.remove_image(lab.node(node_name), lab.pod_image(image))
                        except Exception as error:
                            result.notes.append(f"could not remove {image} from {node_name}: {error}")
                    if loaded_into:
                        try:
                            lab.provider.forget_pushed(spec, [image])
                        except Exception as error:
                            result.notes.append(f"could not remove the host's tag of {image} made for pushing: {error}")
                problems = targets.restore(kube, touched)
                result.notes += problems
                result.calibration = _calibration(clients)
                result.finished = _now()
                result.host["loadavg_end"] = _loadavg()
                result.host["steal_percent"] = steal_percent(cpu_start, _cpu_times())
                paths = write(result, directory)
                if problems:
                    console.print(f"[red]not restored:[/red] {'; '.join(problems)}")
        return result, paths
    finally:
        lab.close()


def _wait_for_quiet(timeout: float = QUIET_WAIT) -> float:
    """Wait (bounded) until the 1-minute load average is at most LOADED per CPU, so a bench that
    follows a build or another bench does not measure its tail; the seconds waited."""
    started = time.monotonic()
    cpus = os.cpu_count() or 1
    with console.status(f"waiting up to {timeout:.0f}s for the machine to be quiet (load average ≤ {LOADED * cpus:g})"):
        try:
            wait_until(lambda: (_loadavg() or [0])[0] <= LOADED * cpus, timeout, "a quiet machine", interval=2)
        except LabError:
            pass  # measured anyway; the header and a note say how busy it was
    return round(time.monotonic() - started, 1)


def _loadgen_image(spec) -> str:
    """The load generator's image, from its first origin that answers (lab/defaults/artifacts.yaml)."""
    from lab import artifacts

    return artifacts.image(spec, "bench-loadgen")


def _from_catalog(variant: str, key: str) -> str | None:
    found = catalog.load().variants.get(variant)
    return getattr(found, key, None) if found else None


def _calibration(clients: incluster.InClusterLoad) -> dict:
    out: dict = {}
    for (node, _level), measured in sorted(clients.ceilings.items()):
        out.setdefault(node, []).append(measured)
    return out
