"""lab.bench: measure the native variant against the wasm variants of a running lab, and show it
(one variant's measures are in lab/bench/variant.py).

`run(spec, settings)` (lab/bench/settings.py, checked before the cluster is reached) is one
`BenchRun`: it waits for a quiet machine (bounded), then measures, per
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
from lab.bench.lab_cluster import LabCluster
from lab.bench.results import BenchResult, VariantResult, from_dict
from lab.bench.settings import QUIET_WAIT, BenchSettings
from lab.errors import InputError, LabError
from lab.proc import CommandFailed, console
from lab.waits import wait_until

LOADED = 0.5    # load average per CPU above which the machine is busy (waited for, then noted)


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


def run(spec, settings: BenchSettings) -> tuple[BenchResult, dict[str, Path]]:
    """One bench on the running lab; what it measured, and the files it wrote."""
    lab = LabCluster(spec)
    try:
        bench = BenchRun(spec, settings, lab)
        return bench.result, bench.measure()
    finally:
        lab.close()


class BenchRun:
    """One bench run: what it measured (`result`) and what it changed on the way, which it puts
    back however it ends — the Deployments it scaled (`touched`), the images it took out of a node
    (`unloaded`) and the nodes it loaded the load generator into (`loaded_into`)."""

    def __init__(self, spec, settings: BenchSettings, lab: LabCluster):
        from lab.kube import Kube

        self.spec, self.settings, self.lab = spec, settings, lab
        try:
            self.kube = Kube(lab.cluster.kubeconfig, lab.cluster.context or None)
        except Exception as error:
            raise LabError(f"cannot use the kubeconfig {lab.cluster.kubeconfig}: {error.__class__.__name__}: {error}")
        self.namespace = namespace = lab.state.get("namespace", spec.namespace)
        try:
            found = targets.discover(self.kube, namespace)
        except Exception as error:
            raise LabError(f"cannot list the lab's deployments in namespace {namespace}: {error.__class__.__name__}: "
                           f"{str(error).splitlines()[0] if str(error) else ''}")
        if not found:
            raise LabError(f"no wasm-lab variants are deployed in namespace {namespace}: run `invoke lab.up` first")
        order = list(catalog.load().variants)
        deployed = sorted(found, key=lambda v: (order.index(v) if v in order else len(order), v))
        self.wanted = wanted = list(dict.fromkeys(settings.variants or deployed))
        unknown = [v for v in wanted + list(settings.density_variants or ()) if v not in found]
        if unknown:
            raise InputError(f"variant: {unknown[0]!r} is not deployed; choose from: {', '.join(deployed)}")
        self.chosen = [dataclasses.replace(found[v], host=lab.cluster.check_host) for v in wanted]
        self.image = image = settings.loadgen_image or _loadgen_image(spec)
        self.result = result = BenchResult(
            lab=spec.name, started=_now(),
            settings={"variants": wanted, "repeat": settings.repeat, "concurrencies": list(settings.levels),
                      "requests": settings.requests, "duration": settings.duration, "path": settings.path,
                      "image_removed": settings.image_removed, "namespace": namespace,
                      "density": list(settings.density), "density_variants": list(settings.density_variants or wanted),
                      "client": f"wrk in a pod ({image}); the NodePort figure: the host's threads + http.client",
                      "probe_interval_ms": probe.INTERVAL * 1000},
            host={"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()})
        result.host["waited_for_quiet"] = _wait_for_quiet(settings.quiet_wait) if settings.quiet_wait > 0 else 0.0
        result.host["loadavg_start"] = _loadavg()
        self.cpu_start = _cpu_times()
        loaded = (result.host["loadavg_start"] or [0])[0] / (os.cpu_count() or 1)
        if loaded > LOADED:
            result.notes.append(f"the machine was busy when the bench started: load average "
                                f"{result.host['loadavg_start'][0]} on {os.cpu_count()} CPU(s)")
        self.directory = settings.output or Path(spec.results_dir)
        self.touched: list[targets.Target] = []
        self.unloaded: list[tuple[str, str]] = []
        self.loaded_into: list[str] = []
        self.stop = threading.Event()
        self.clients = incluster.InClusterLoad(self.kube, namespace, spec.name, lab.pod_image(image),
                                               [n.name for n in lab.cluster.nodes], load_image=self._load_tool_image)
        density.remove_copies(self.kube, namespace, spec.name)
        self.ran_on = engines.of_variants([t.variant for t in self.chosen], lab.state)

    def _load_tool_image(self, node: str) -> None:
        self.lab.load_back(node, self.image)
        self.loaded_into.append(node)

    def measure(self) -> dict[str, Path]:
        """Every chosen variant, then their density; however it ends, everything is put back and
        what was measured is written. The files written."""
        kube, result, settings = self.kube, self.result, self.settings
        try:
            for target in self.chosen:
                result.variants[target.variant] = VariantResult(
                    variant=target.variant, deployment=target.deployment, port=target.port, image=target.image,
                    runtime_class=target.runtime_class, packaging=_from_catalog(target.variant, "packaging"),
                    execution=_from_catalog(target.variant, "execution"), engine=self.ran_on.get(target.variant))
                try:
                    variant.measure(self, target)
                except (LabError, CommandFailed, ApiException) as error:
                    # One variant's failure is a note; the others are still measured.
                    message = str(error).splitlines()[0] if str(error) else error.__class__.__name__
                    result.variants[target.variant].notes.append(f"stopped: {message}")
                    console.print(f"  [red]{target.variant} stopped[/red]: {message}")
                if target in self.touched:
                    # Back to its applied state before the next variant is measured.
                    with console.status(f"{target.variant}: back to {target.replicas} replica(s)"):
                        result.variants[target.variant].notes += targets.restore(kube, [target])
            for target in self.chosen:
                if settings.density and target.variant in (settings.density_variants or self.wanted):
                    try:
                        variant.measure_density(kube, target, result, settings)
                    except (LabError, ApiException) as error:
                        message = str(error).splitlines()[0] if str(error) else error.__class__.__name__
                        result.variants[target.variant].notes.append(f"density stopped: {message}")
                        console.print(f"  [red]{target.variant} density stopped[/red]: {message}")
        except KeyboardInterrupt:
            self.stop.set()
            result.interrupted = True
            console.print("[yellow]interrupted: putting the lab back as it was[/yellow]")
            raise
        finally:
            with _NoInterrupt():
                paths = self._put_back_and_write()
        return paths

    def _put_back_and_write(self) -> dict[str, Path]:
        lab, kube, result, image = self.lab, self.kube, self.result, self.image
        self.stop.set()
        for node_name, ref in self.unloaded:
            try:
                lab.load_back(node_name, ref)
            except Exception as error:
                result.notes.append(f"could not load {ref} back into {node_name}: {error}")
        try:
            self.clients.close()
            density.remove_copies(kube, self.namespace, self.spec.name)
        except Exception as error:
            result.notes.append(f"could not delete the bench's own pods: {error}")
        if not lab.provider.creates_clusters:
            # A cluster the lab did not create keeps nothing of the bench's own.
            for node_name in self.loaded_into:
                try:
                    node_images.remove_image(lab.node(node_name), lab.pod_image(image))
                except Exception as error:
                    result.notes.append(f"could not remove {image} from {node_name}: {error}")
            if self.loaded_into:
                try:
                    lab.provider.forget_pushed(self.spec, [image])
                except Exception as error:
                    result.notes.append(f"could not remove the host's tag of {image} made for pushing: {error}")
        problems = targets.restore(kube, self.touched)
        result.notes += problems
        result.calibration = _calibration(self.clients)
        result.finished = _now()
        result.host["loadavg_end"] = _loadavg()
        result.host["steal_percent"] = steal_percent(self.cpu_start, _cpu_times())
        paths = write(result, self.directory)
        if problems:
            console.print(f"[red]not restored:[/red] {'; '.join(problems)}")
        return paths


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
