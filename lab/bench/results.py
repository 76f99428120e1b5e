"""The bench's results: one versioned JSON schema, built from dataclasses.

`BenchResult.as_dict()` is what `bench.json` holds; `from_dict` reads it back (the report can be
re-rendered from a JSON file without a cluster). Times are seconds, sizes bytes, latencies
milliseconds; a value that could not be measured is null and a note says why."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lab.bench import stats

SCHEMA = "wasm-lab/bench"
VERSION = 4
# Older versions are read by `migrate`. Version 1 (before the in-cluster load and the node probe):
# its cold starts keep their four phases (the new ones are null) and its load levels were the
# host's own client through the NodePort, so they move to `load_nodeport`. Version 2 (before each
# variant said which engine it ran on): `engine` is null, not known. Version 3 (before the
# catalog's `packaging`): each variant's `flavor` (native, embed or runtime, read off its name)
# becomes its `packaging`.
# Phases of a cold start, each in seconds after the pod object was created, in the order they
# happen. From the pod watch: scheduled, running, ready; from the node probe (CRI times and the pod
# IP): the sandbox, container and pod_ip_200 ones; from the host: http_200 (through the NodePort).
NODE_PHASES = ("sandbox_created", "sandbox_ready", "container_created", "container_started", "pod_ip_200")
PHASES = ("scheduled", "sandbox_created", "sandbox_ready", "container_created", "container_started", "running",
          "pod_ip_200", "ready", "http_200")
PHASE_TITLES = {"scheduled": "scheduled", "sandbox_created": "sandbox created (CRI)",
                "sandbox_ready": "sandbox ready (probe)", "container_created": "container created (CRI)",
                "container_started": "container started (CRI)", "running": "container running (API)",
                "pod_ip_200": "first 200 at the pod IP", "ready": "pod Ready", "http_200": "first 200 via NodePort"}
# The cold start cut into consecutive spans (the stacked bar): name -> (from phase, to phase);
# None is the pod's creation. "nodeport" is reported apart: it is the Service, not the runtime.
SPANS = {"scheduling": (None, "scheduled"), "kubelet to sandbox": ("scheduled", "sandbox_created"),
         "sandbox and image": ("sandbox_created", "container_created"),
         "container start": ("container_created", "container_started"),
         "started to first 200": ("container_started", "pod_ip_200")}
NODEPORT_SPAN = ("pod_ip_200", "http_200")
RUN_KINDS = ("first", "repeat", "image-removed")
# Image sizes published in the 2025 "WebAssembly on Kubernetes" walkthrough, per packaging.
PUBLISHED = {
    "source": "2025 \"WebAssembly on Kubernetes\" walkthrough",
    "unit": "MB (as published)",
    "sizes_mb": {"native": 8.7, "embed": 12.4, "runtime": 1.15},
}


@dataclass
class ColdStartRun:
    index: int
    kind: str                                   # first | repeat | image-removed
    seconds: dict[str, float | None]            # phase -> seconds after the pod was created (host clock)
    api: dict[str, str | None] = field(default_factory=dict)  # pod status timestamps (1 s resolution)
    request_to_created: float | None = None     # scale-up request -> pod object seen
    image_load_seconds: float | None = None     # image-removed runs: `kind load` into the node
    node: str | None = None
    error: str | None = None
    probe: dict = field(default_factory=dict)   # how the node probe went (lab/bench/coldstart.py)

    def spans(self) -> dict[str, float | None]:
        """Seconds spent in each span of SPANS, plus "nodeport"; None where a bound is missing."""
        def at(phase):
            return 0.0 if phase is None else self.seconds.get(phase)

        out = {}
        for name, (start, end) in {**SPANS, "nodeport": NODEPORT_SPAN}.items():
            a, b = at(start), at(end)
            out[name] = round(b - a, 4) if a is not None and b is not None else None
        return out


@dataclass
class MemorySample:
    pod_working_set_bytes: int | None
    containers: dict[str, dict[str, int | None]]  # name -> working_set_bytes, rss_bytes, usage_bytes
    time: str | None = None                       # when the kubelet took the sample


@dataclass
class ImageSize:
    ref: str
    node_bytes: int | None = None        # containerd's size in the node (CRI image list)
    host_bytes: int | None = None        # the host Docker's unpacked size
    gzip_bytes: int | None = None        # docker save | gzip -6
    image_id: str | None = None


@dataclass
class LoadLevel:
    concurrency: int
    requests: int              # answered + failed
    ok: int                    # HTTP 200
    errors: int
    seconds: float
    throughput: float          # HTTP 200 per second
    latency_ms: dict[str, float | None]  # p50 p95 p99 min max mean (HTTP 200 only)
    stopped_by: str            # count | duration | interrupted
    error_sample: str | None = None
    target: str = "nodeport"   # pod-ip | service | nodeport | responder (the calibration)
    client: str = "python"     # wrk (in a pod) | python (the host's threads)
    client_node: str | None = None
    client_cpu_limit: str | None = None   # set when the client shared the node under test
    ceiling: float | None = None          # the responder's req/s with the same client and level
    client_bound: bool | None = None      # throughput >= half the ceiling: the client, not the server, limits


@dataclass
class DensityRun:
    replicas: int
    ready: int                        # pods Ready at the end
    failed: dict[str, int]            # waiting/termination reason -> pods
    seconds_to_ready: float | None    # scale-up request -> the last pod Ready (None: not all made it)
    nodes: list[str]
    node_working_set_before: int | None   # bytes, sum over the nodes that got pods
    node_working_set_after: int | None
    pods_working_set: int | None          # sum of the pods' own working sets
    error: str | None = None

    @property
    def per_pod_node_bytes(self) -> float | None:
        """The nodes' working set growth per Ready pod: the pod and what runs for it outside it."""
        if self.node_working_set_before is None or self.node_working_set_after is None or not self.ready:
            return None
        return (self.node_working_set_after - self.node_working_set_before) / self.ready

    @property
    def pods_per_gib(self) -> float | None:
        per_pod = self.per_pod_node_bytes
        return (1 << 30) / per_pod if per_pod and per_pod > 0 else None


@dataclass
class VariantResult:
    variant: str
    deployment: str
    port: int | None = None
    image: str | None = None
    runtime_class: str | None = None
    packaging: str | None = None        # the catalog's: native | embed | runtime | artifact
    execution: str | None = None        # how the engine runs the module: native | interpreter | jit | aot
    # the engine it ran on, {name, version, artifact, origin} (lab/engines.py); None for native,
    # or when the lab recorded none (a lab set up before engines were recorded, a version 2 result)
    engine: dict | None = None
    node: str | None = None
    cold_start: list[ColdStartRun] = field(default_factory=list)
    memory: dict[str, MemorySample | None] = field(default_factory=lambda: {"idle": None, "after_load": None})
    image_size: ImageSize | None = None
    load: list[LoadLevel] = field(default_factory=list)           # wrk at the pod IP, every level
    load_service: list[LoadLevel] = field(default_factory=list)   # wrk at the ClusterIP, highest level
    load_nodeport: list[LoadLevel] = field(default_factory=list)  # the host's client through the NodePort
    density: list[DensityRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cold_summary(self) -> dict:
        """first start, the repeats' spread and the image-removed run, per phase."""
        def runs(kind):
            return [r for r in self.cold_start if r.kind == kind and r.error is None]

        summary = {}
        first = runs("first")
        summary["first"] = dict(first[0].seconds) if first else None
        repeats = runs("repeat")
        summary["repeat"] = {p: stats.spread([r.seconds.get(p) for r in repeats]).as_dict() for p in PHASES} \
            if repeats else None
        summary["spans"] = {s: stats.spread([r.spans()[s] for r in repeats]).as_dict()
                            for s in (*SPANS, "nodeport")} if repeats else None
        removed = runs("image-removed")
        summary["image_removed"] = ({**removed[0].seconds, "image_load": removed[0].image_load_seconds}
                                    if removed else None)
        return summary

    def as_dict(self) -> dict:
        data = asdict(self)
        data["cold_start_summary"] = self.cold_summary()
        for run, density in zip(data["density"], self.density):
            run["per_pod_node_bytes"] = density.per_pod_node_bytes
            run["pods_per_gib"] = density.pods_per_gib
        return data


@dataclass
class BenchResult:
    lab: str
    started: str
    finished: str | None = None
    settings: dict = field(default_factory=dict)
    host: dict = field(default_factory=dict)
    variants: dict[str, VariantResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False
    published: dict = field(default_factory=lambda: dict(PUBLISHED))
    # the load generator's ceiling: wrk against the trivial responder, per node under test
    calibration: dict[str, list[LoadLevel]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"schema": SCHEMA, "version": VERSION, "lab": self.lab, "started": self.started,
                "finished": self.finished, "interrupted": self.interrupted, "settings": self.settings,
                "host": self.host, "published": self.published, "notes": list(self.notes),
                "calibration": {node: [asdict(level) for level in levels] for node, levels in self.calibration.items()},
                "variants": {name: v.as_dict() for name, v in self.variants.items()}}


def migrate(data: dict) -> dict:
    """An older result as the current VERSION, one version at a time; anything else unchanged."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return data
    if data.get("version") == 1:
        data = _version_1_to_2(data)
    if data.get("version") == 2:
        data = {**data, "version": 3, "variants": {name: {**variant, "engine": None}
                                                   for name, variant in (data.get("variants") or {}).items()}}
    if data.get("version") == 3:
        data = {**data, "version": 4, "variants": {name: _packaging_of_version_3(variant)
                                                   for name, variant in (data.get("variants") or {}).items()}}
    return data


def _packaging_of_version_3(variant: dict) -> dict:
    variant = dict(variant)
    variant["packaging"] = variant.pop("flavor", None)
    return variant


def _version_1_to_2(data: dict) -> dict:
    data = {**data, "version": 2, "variants": dict(data.get("variants") or {})}
    for name, variant in data["variants"].items():
        variant = dict(variant)
        variant["load_nodeport"] = [{**level, "target": "nodeport", "client": "python"}
                                    for level in variant.get("load", [])]
        variant["load"] = []
        variant["cold_start"] = [{**run, "seconds": {p: run.get("seconds", {}).get(p) for p in PHASES},
                                  "probe": {"ran": False, "why": "measured before the node probe existed"}}
                                 for run in variant.get("cold_start", [])]
        data["variants"][name] = variant
    return data


def validate(data: dict) -> None:
    """Raise ValueError unless `data` is a bench result this code understands."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"not a wasm-lab bench result (schema should be {SCHEMA!r})")
    if data.get("version") != VERSION:
        raise ValueError(f"bench result version {data.get('version')!r} is not supported (this code reads {VERSION})")
    for key in ("lab", "started", "variants", "settings"):
        if key not in data:
            raise ValueError(f"bench result lacks {key!r}")
    for name, variant in data["variants"].items():
        for key in ("variant", "deployment", "cold_start", "memory", "load"):
            if key not in variant:
                raise ValueError(f"variant {name} lacks {key!r}")
        for run in variant["cold_start"]:
            if run.get("kind") not in RUN_KINDS:
                raise ValueError(f"variant {name}: cold start kind {run.get('kind')!r} is not one of {RUN_KINDS}")


def _memory(data):
    return MemorySample(**data) if data else None


def _density(data: dict) -> DensityRun:
    return DensityRun(**{k: v for k, v in data.items() if k not in ("per_pod_node_bytes", "pods_per_gib")})


def from_dict(data: dict) -> BenchResult:
    data = migrate(data)
    validate(data)
    variants = {}
    for name, v in data["variants"].items():
        variants[name] = VariantResult(
            variant=v["variant"], deployment=v["deployment"], port=v.get("port"), image=v.get("image"),
            runtime_class=v.get("runtime_class"), packaging=v.get("packaging"), execution=v.get("execution"),
            engine=v.get("engine"),
            node=v.get("node"),
            cold_start=[ColdStartRun(**r) for r in v["cold_start"]],
            memory={k: _memory(s) for k, s in v["memory"].items()},
            image_size=ImageSize(**v["image_size"]) if v.get("image_size") else None,
            load=[LoadLevel(**level) for level in v["load"]],
            load_service=[LoadLevel(**level) for level in v.get("load_service", [])],
            load_nodeport=[LoadLevel(**level) for level in v.get("load_nodeport", [])],
            density=[_density(run) for run in v.get("density", [])], notes=list(v.get("notes", [])))
    return BenchResult(lab=data["lab"], started=data["started"], finished=data.get("finished"),
                       settings=data["settings"], host=data.get("host", {}), variants=variants,
                       notes=list(data.get("notes", [])), interrupted=data.get("interrupted", False),
                       published=data.get("published", dict(PUBLISHED)),
                       calibration={node: [LoadLevel(**level) for level in levels]
                                    for node, levels in (data.get("calibration") or {}).items()})
