"""The lab spec: embedded defaults, then lab.yaml, then command-line options; validated once."""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path

import yaml

from lab import catalog
from lab import mirrors as lab_mirrors
from lab.errors import InputError
from lab.kit import trust as kit_trust
from lab.mirrors import Mirrors

DEFAULTS_FILE = Path(__file__).parent / "defaults" / "lab.yaml"
PROVIDERS = ("kind", "minikube", "existing")


class Offline(StrEnum):
    """`offline`: which origins an artifact may come from. The values are lab.yaml's (and what
    --offline / --online give), so a member equals the text it was read from."""
    AUTO = "auto"           # upstream when it answers and verifies, else the offline kit
    KIT = "true"            # --offline: the offline kit only
    UPSTREAM = "false"      # --online: upstream only, never the kit


OFFLINE_MODES = tuple(mode.value for mode in Offline)
NODE_CONTAINERDS = ("2", "1.7")
IMAGE_DELIVERIES = ("registry", "load")
# Whole values only (fullmatch: a "$" would let a trailing newline through into folder and object names).
NAME_PATTERN = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")
KUBERNETES_PATTERN = re.compile(r"v1\.\d+\.\d+")
# provider existing: a label selector naming the wasm nodes, a registry the nodes pull from (host[:port][/path]).
SELECTOR_PATTERN = re.compile(r"[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?(,[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?)*")
REGISTRY_PATTERN = re.compile(r"[a-z0-9.-]+(:\d{1,5})?(/[a-z0-9._/-]+)?")



@dataclass(frozen=True)
class LabSpec:
    name: str
    provider: str
    kubernetes: str
    workers: int
    runtimes: tuple[str, ...]
    offline: Offline
    host_port_base: int
    namespace: str
    results_dir: str
    context: str = ""          # provider existing: the kubeconfig context of the cluster
    selector: str = ""         # provider existing: which nodes get the runtimes ("" = pool label, else all workers)
    registry: str = ""         # provider existing: where images are pushed for the nodes to pull
    installer_image: str = ""  # provider existing: image of the installer pod ("" = the node's own tools)
    mirrors: Mirrors = Mirrors()  # upstream URL prefixes and registries -> company or local mirrors
    lock: str = "lab.lock"     # pins of what was fetched upstream, beside the lab's config
    node_containerd: str = "2"  # the kit's kind node: containerd 2.x (as kindest/node) or 1.7
    adopt: bool = False        # take over a same-named cluster, RuntimeClass or shim file (backed up, restored)
    kit_from: str = ""         # a kit bundle (file, URL or kit.serve address) imported first; the lab then runs offline
    kit_sha256: str = ""       # kit_from's sha256 or fingerprint (lab/kit/trust.py), as lower-case hex
    image_delivery: str = "registry"  # provider kind: pushed to the lab registry and pulled ("registry") or kind load

    @property
    def pulls_artifacts(self) -> bool:
        """Whether the nodes pull from a registry the lab pushes Wasm OCI artifacts to: the lab's
        own on the kind clusters it makes (lab/registry.py), the one `registry` names on an
        existing cluster. minikube's nodes only get side-loaded images."""
        return self.provider == "kind" or (self.provider == "existing" and bool(self.registry))

    @property
    def pulls_images(self) -> bool:
        """Whether the nodes pull the workload images from the lab's own registry (kind) instead
        of having them loaded (kind load); an existing cluster's registry is its provider's."""
        return self.provider == "kind" and self.image_delivery == "registry"

    @property
    def variants(self) -> tuple[str, ...]:
        return catalog.load().variants_for(self.runtimes, artifacts=self.pulls_artifacts)

    def host_port(self, variant: str) -> int:
        """Every variant has a fixed port, so runtimes can be added to a running cluster later."""
        return self.host_port_base + list(catalog.load().variants).index(variant)


def _choice(field: str, value, allowed) -> str:
    value = str(value).lower() if isinstance(value, bool) else str(value)
    if value not in allowed:
        raise InputError(f"{field}: {value!r} is not allowed; choose one of: {', '.join(allowed)}")
    return value


def _integer(field: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not re.fullmatch(r"[0-9]+", str(value)):
        raise InputError(f"{field}: {value!r} is not a whole number from {low} to {high}")
    number = int(value)
    if not low <= number <= high:
        raise InputError(f"{field}: {number} is outside {low}..{high}")
    return number


def _pattern(field: str, value, pattern: re.Pattern, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InputError(f"{field}: {value!r} is not {what}")
    return value


def validate(raw: dict) -> LabSpec:
    known = {f.name for f in fields(LabSpec)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(f"{unknown[0]}: unknown setting; known settings: {', '.join(sorted(known))}")
    runtimes = raw["runtimes"]
    if isinstance(runtimes, str):
        runtimes = [runtimes]
    if not isinstance(runtimes, (list, tuple)) or not runtimes:
        raise InputError(f"runtimes: give at least one of: {', '.join(catalog.load().runtimes)}")
    runtimes = tuple(dict.fromkeys(_choice("runtime", r, tuple(catalog.load().runtimes)) for r in runtimes))
    return LabSpec(
        name=_pattern("name", raw["name"], NAME_PATTERN, "lower-case letters, digits and '-', at most 32"),
        provider=_choice("provider", raw["provider"], PROVIDERS),
        kubernetes=_pattern("kubernetes", raw["kubernetes"], KUBERNETES_PATTERN, "a version like v1.34.2"),
        workers=_integer("workers", raw["workers"], 1, 5),
        runtimes=runtimes,
        offline=_kit_mode(raw),
        host_port_base=_integer("host_port_base", raw["host_port_base"], 30000, 32767 - len(catalog.load().variants)),
        namespace=_pattern("namespace", raw["namespace"], NAME_PATTERN, "a Kubernetes namespace name"),
        results_dir=_results_dir(raw["results_dir"]),
        mirrors=lab_mirrors.parse(raw.get("mirrors")),
        lock=_lock_path(raw.get("lock")),
        adopt=_boolean("adopt", raw.get("adopt", False)),
        node_containerd=_choice("node_containerd", raw.get("node_containerd", "2"), NODE_CONTAINERDS),
        kit_from=_kit_from(raw.get("kit_from")),
        kit_sha256=_kit_sha256(raw),
        image_delivery=_choice("image_delivery", raw.get("image_delivery", "registry"), IMAGE_DELIVERIES),
        **_cluster_settings(raw),
    )


def _kit_mode(raw: dict) -> Offline:
    """A kit bundle is the offline kit: with one, auto means offline and --online is a contradiction."""
    mode = Offline(_choice("offline", raw["offline"], OFFLINE_MODES))
    if not raw.get("kit_from"):
        return mode
    if mode is Offline.UPSTREAM:
        raise InputError("kit_from: a kit bundle is the offline kit; it cannot be used with --online (offline: false)")
    return Offline.KIT


def _kit_from(value) -> str:
    if not value:
        return ""
    if not isinstance(value, str):
        raise InputError(f"kit_from: {value!r} is not a bundle file, URL or kit.serve address")
    if Path(value).expanduser().is_file() or (re.fullmatch(r"https?://[^/\s]+(/\S*)?", value)
                                              and _parses_as_url(value)):
        return value
    raise InputError(f"kit_from: {value!r} is neither a file nor an http(s) URL (a bundle from kit.export, "
                     "or a kit.serve address like http://192.168.1.10:8780)")


def _parses_as_url(value: str) -> bool:
    try:
        urllib.parse.urlsplit(value).port  # a bad IPv6 host or port raises here
    except ValueError:
        return False
    return True


def _kit_sha256(raw: dict) -> str:
    value = raw.get("kit_sha256")
    if not value:
        return ""
    if not raw.get("kit_from"):
        raise InputError("kit_sha256: pins the bundle kit_from names; give --kit-from too")
    return kit_trust.parse_pin(value, "kit_sha256")


def _boolean(field: str, value) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{field}: {value!r} is not allowed; choose one of: true, false")
    return value


def _results_dir(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"results_dir: {value!r} is not a folder path (default: lab-results)")
    return value


def _lock_path(value) -> str:
    if value is None:
        return "lab.lock"
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"lock: {value!r} is not a file path")
    return value


def _cluster_settings(raw: dict) -> dict:
    """context/selector/registry/installer_image: strings, checked against the provider that uses them."""
    values = {k: "" if raw.get(k) is None else str(raw.get(k)).strip() for k in
              ("context", "selector", "registry", "installer_image")}
    if raw.get("provider") == "existing" and not values["context"]:
        raise InputError("context: provider 'existing' needs --context NAME")
    if values["selector"] and not SELECTOR_PATTERN.fullmatch(values["selector"]):
        raise InputError(f"selector: {values['selector']!r} is not a label selector like wasm-lab.dev/pool=wasm")
    if values["registry"] and not REGISTRY_PATTERN.fullmatch(values["registry"]):
        raise InputError(f"registry: {values['registry']!r} is not a registry like localhost:5001 or host:port/path")
    return values


def load(config: str | None = None, overrides: dict | None = None) -> LabSpec:
    """Defaults ⊕ lab.yaml (the given file, else ./lab.yaml when present) ⊕ overrides (None = unset).
    lab.lock lives beside the lab.yaml in use (the current folder without one) unless `lock` says."""
    raw = yaml.safe_load(DEFAULTS_FILE.read_text())
    path = Path(config) if config else Path("lab.yaml")
    raw["lock"] = str(path.absolute().parent / "lab.lock")
    if config or path.exists():
        try:
            from_file = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise InputError(f"config: {path} does not exist")
        except IsADirectoryError:
            raise InputError(f"config: {path} is a folder; name a lab.yaml file")
        except UnicodeDecodeError:
            raise InputError(f"config: {path} is not UTF-8 text")
        except OSError as error:
            raise InputError(f"config: {path} cannot be read ({error.strerror or error})")
        except yaml.YAMLError as error:
            raise InputError(f"config: {path} is not valid YAML ({error.__class__.__name__})")
        if not isinstance(from_file, dict):
            raise InputError(f"config: {path} must hold a mapping of settings")
        raw.update(from_file)
    raw.update({k: v for k, v in (overrides or {}).items() if v not in (None, [], ())})
    return validate(raw)
