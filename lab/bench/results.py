"""The bench's results: one versioned JSON schema, built from dataclasses.

`BenchResult.as_dict()` is what `bench.json` holds; `from_dict` reads it back (the report can be
re-rendered from a JSON file without a cluster). Times are seconds, sizes bytes, latencies
milliseconds; a value that could not be measured is null and a note says why."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lab.bench import stats

SCHEMA = "wasm-lab/bench"
VERSION = 1
# Phases of a cold start, each in seconds after the pod object was created.
PHASES = ("scheduled", "running", "ready", "http_200")
PHASE_TITLES = {"scheduled": "scheduled", "running": "container running", "ready": "pod Ready",
                "http_200": "first HTTP 200"}
RUN_KINDS = ("first", "repeat", "image-removed")
# Image sizes published in the 2025 "WebAssembly on Kubernetes" walkthrough, per flavor.
PUBLISHED = {
    "source": "2025 \"WebAssembly on Kubernetes\" walkthrough",
    "unit": "MB (as published)",
    "sizes_mb": {"native": 8.7, "embed": 12.4, "runtime": 1.15},
}


def flavor(variant: str) -> str:
    """native, embed or runtime: what the published sizes are given for."""
    return variant.split("-", 1)[0]


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


@dataclass
class VariantResult:
    variant: str
    deployment: str
    port: int | None = None
    image: str | None = None
    runtime_class: str | None = None
    node: str | None = None
    cold_start: list[ColdStartRun] = field(default_factory=list)
    memory: dict[str, MemorySample | None] = field(default_factory=lambda: {"idle": None, "after_load": None})
    image_size: ImageSize | None = None
    load: list[LoadLevel] = field(default_factory=list)
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
        removed = runs("image-removed")
        summary["image_removed"] = ({**removed[0].seconds, "image_load": removed[0].image_load_seconds}
                                    if removed else None)
        return summary

    def as_dict(self) -> dict:
        data = asdict(self)
        data["cold_start_summary"] = self.cold_summary()
        data["flavor"] = flavor(self.variant)
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

    def as_dict(self) -> dict:
        return {"schema": SCHEMA, "version": VERSION, "lab": self.lab, "started": self.started,
                "finished": self.finished, "interrupted": self.interrupted, "settings": self.settings,
                "host": self.host, "published": self.published, "notes": list(self.notes),
                "variants": {name: v.as_dict() for name, v in self.variants.items()}}


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


def from_dict(data: dict) -> BenchResult:
    validate(data)
    variants = {}
    for name, v in data["variants"].items():
        variants[name] = VariantResult(
            variant=v["variant"], deployment=v["deployment"], port=v.get("port"), image=v.get("image"),
            runtime_class=v.get("runtime_class"), node=v.get("node"),
            cold_start=[ColdStartRun(**r) for r in v["cold_start"]],
            memory={k: _memory(s) for k, s in v["memory"].items()},
            image_size=ImageSize(**v["image_size"]) if v.get("image_size") else None,
            load=[LoadLevel(**level) for level in v["load"]], notes=list(v.get("notes", [])))
    return BenchResult(lab=data["lab"], started=data["started"], finished=data.get("finished"),
                       settings=data["settings"], host=data.get("host", {}), variants=variants,
                       notes=list(data.get("notes", [])), interrupted=data.get("interrupted", False),
                       published=data.get("published", dict(PUBLISHED)))
