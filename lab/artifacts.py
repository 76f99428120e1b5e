"""Resolve what the lab installs: upstream pins (sha256-checked downloads) or the offline kit.

One code path either way: every artifact ends up as a local file with a known sha256, or an
image reference, before anything is installed."""
from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab import kit
from lab.errors import LabError
from lab.kit.store import sha256_file
from lab.proc import console

DEFAULTS = Path(__file__).parent / "defaults"
DOWNLOADS = Path.home() / ".cache" / "wasm-lab" / "downloads"


@dataclass(frozen=True)
class LocalFile:
    path: Path
    sha256: str


@dataclass(frozen=True)
class LocalBundle:
    """A directory installed as a whole on a node (e.g. .debs and their install script)."""
    path: Path
    files: dict[str, str]               # relative path -> sha256

    @property
    def digest(self) -> str:
        return hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(self.files.items())).encode()).hexdigest()


@dataclass
class Artifacts:
    source: str                         # "upstream" or "kit"
    node_image: str | None
    files: dict[str, LocalFile | LocalBundle] = field(default_factory=dict)


def catalog() -> dict:
    return yaml.safe_load((DEFAULTS / "artifacts.yaml").read_text())


def runtimes_catalog() -> dict:
    return yaml.safe_load((DEFAULTS / "runtimes.yaml").read_text())


def upstream_reachable(probes: list[str], timeout: float = 3.0) -> tuple[bool, str]:
    for probe in probes:
        host, port = probe.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except OSError as error:
            return False, f"{host}: {error.strerror or error}"
    return True, ""


def choose_source(offline: str) -> str:
    if offline == "true":
        return "kit"
    if offline == "false":
        return "upstream"
    reachable, why = upstream_reachable(catalog()["upstream"]["probe"])
    if reachable:
        return "upstream"
    console.print(f"upstream artifacts unreachable ({why}); using the offline kit, building what is missing")
    return "kit"


def sources_for(runtimes: tuple[str, ...]) -> list[str]:
    table = runtimes_catalog()
    return sorted({item["source"] for rt in runtimes for item in table[rt]["files"] + table[rt].get("bundles", [])})


def kit_artifact_names(runtimes: tuple[str, ...], provider: str | None) -> list[str]:
    """The kit artifacts a lab needs: its runtimes' files, and its provider's node image and tools
    (provider None: none of those, e.g. when only runtimes are installed)."""
    mapping = catalog()["kit"]
    names = {mapping[s]["artifact"] for s in sources_for(runtimes)}
    if provider in mapping["node-image"]:
        names.add(mapping["node-image"][provider])
    names.update(mapping["tools"].get(provider, []))
    return sorted(names)


def resolve(runtimes: tuple[str, ...], source: str, provider: str | None) -> Artifacts:
    if source == "kit":
        return _from_kit(runtimes, provider)
    return _from_upstream(runtimes, provider)


def _from_kit(runtimes, provider) -> Artifacts:
    mapping = catalog()["kit"]
    kit.build(kit_artifact_names(runtimes, provider))
    files = {}
    for source in sources_for(runtimes):
        entry = kit.artifact(mapping[source]["artifact"])
        if "dir" in mapping[source]:
            files[source] = LocalBundle(Path(entry["path"]), entry["files"])
            continue
        relative = mapping[source]["file"]
        if relative not in entry["files"]:
            raise LabError(f"kit artifact {entry['name']} has no {relative}; rebuild it (invoke kit.build --force --only {entry['name']})")
        files[source] = LocalFile(Path(entry["path"]) / relative, entry["files"][relative])
    node_artifact = mapping["node-image"].get(provider)
    node_image = kit.artifact(node_artifact)["image"]["ref"] if node_artifact else None
    return Artifacts("kit", node_image, files)


def _from_upstream(runtimes, provider) -> Artifacts:
    pins = catalog()["upstream"]
    files = {}
    for source in sources_for(runtimes):
        if source not in pins:
            raise LabError(f"{source}: no upstream pin in lab/defaults/artifacts.yaml; use the offline kit (--offline)")
        files[source] = download(source, pins[source])
    node_image = (pins["node-image"].get(provider) or {}).get("ref")
    return Artifacts("upstream", node_image, files)


def download(name: str, pin: dict) -> LocalFile:
    """Fetch a pinned release asset once, check its sha256, and return the member binary."""
    expected = pin.get("sha256")
    if not expected:
        raise LabError(f"{name}: no sha256 is pinned for {pin['url']} in lab/defaults/artifacts.yaml, so it is "
                       "not installed; pin it, or use the offline kit (--offline)")
    archive = DOWNLOADS / expected / Path(pin["url"]).name
    if not archive.exists() or sha256_file(archive) != expected:
        archive.parent.mkdir(parents=True, exist_ok=True)
        with console.status(f"downloading {pin['url']}"):
            data = urllib.request.urlopen(pin["url"], timeout=60).read()
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise LabError(f"{name}: sha256 mismatch for {pin['url']}: got {actual}, pinned {expected}; nothing installed")
        archive.write_bytes(data)
    binary = archive.parent / pin["member"]
    if not binary.exists():
        with tarfile.open(fileobj=io.BytesIO(archive.read_bytes())) as tar:
            member = tar.extractfile(pin["member"])
            if member is None:
                raise LabError(f"{name}: {pin['member']} is not in {archive.name}")
            binary.write_bytes(member.read())
    return LocalFile(binary, sha256_file(binary))
