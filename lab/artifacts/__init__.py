"""One store for everything the lab installs or builds from: node image, shims, bundles, base images.

Each artifact has an ordered list of origins (lab/defaults/artifacts.yaml): a pinned upstream
download or pull (through the lab's mirrors), an image built here from pinned inputs, a kit recipe.
The mode picks which origins count (`--online`, `--offline`, or `auto`, which falls back to the next
origin with one line when one cannot be reached or verified). Nothing is used before its sha256 or
digest matched the pin: lab.lock's when the lab has one, the catalog's otherwise.

Here: the catalog, the artifacts a lab needs, the Resolver that walks their origins and resolve();
`origins` fetches per kind of origin, `plan` describes without fetching (lab.plan), `host` says
this machine's architecture and kind release, `local` holds what the origins give."""
from __future__ import annotations

import socket
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from lab import catalog as runtime_catalog
from lab import engines, kit
from lab.artifacts.floors import RELEASE_TAG, refuse_below_floor
from lab.artifacts.host import ARCHES, host_arch, installed_kind_version, version_tuple
from lab.artifacts.local import LocalBundle, LocalFile, LocalImage
from lab.artifacts.origins import FETCHERS
from lab.engines import BASE_IMAGE_ARTIFACTS
from lab.errors import LabError
from lab.fetch import Unavailable
from lab.lock import LockFile
from lab.mirrors import ImageRef, Mirrors
from lab.proc import console
from lab.spec import Offline

DEFAULTS = Path(__file__).parent.parent / "defaults"
# Which origins each mode may use (spec.offline).
MODE_ORIGINS = {
    Offline.AUTO: ("release", "registry", "build", "debian", "kit", "default"),
    Offline.UPSTREAM: ("release", "registry", "build", "debian", "default"),
    Offline.KIT: ("debian", "kit"),
}
MODE_NAMES = {Offline.AUTO: "auto", Offline.UPSTREAM: "online", Offline.KIT: "offline"}
PROBE_SECONDS = 3.0


@dataclass
class Artifacts:
    mode: str
    node_image: str | None = None
    files: dict[str, LocalFile | LocalBundle] = field(default_factory=dict)
    images: dict[str, LocalImage] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)   # artifact -> origin it came from
    engines: dict[str, dict | None] = field(default_factory=dict)  # artifact -> {name, version} of its engine
    identities: dict[str, str] = field(default_factory=dict)  # base image artifact -> Resolver.identity

    def bundles_for(self, runtime) -> list[dict]:
        """The bundles a runtime (lab.catalog.Runtime) needs on a node: its own, and those its
        files' origins need."""
        names = list(runtime.bundles)
        for item in runtime.files:
            local = self.files.get(item["source"])
            names += list(getattr(local, "needs", ()))
        placement = catalog()["bundles"]
        return [{"source": name, **placement[name]} for name in dict.fromkeys(names)]

    @property
    def base_images(self) -> dict[str, str]:
        return {arg: self.images[name].ref for arg, name in BASE_IMAGE_ARTIFACTS.items() if name in self.images}

    @property
    def base_identities(self) -> dict[str, str]:
        return {arg: self.identities[name] for arg, name in BASE_IMAGE_ARTIFACTS.items() if name in self.identities}


def catalog() -> dict:
    return yaml.safe_load((DEFAULTS / "artifacts.yaml").read_text())



def may_need_bundles(runtime: str) -> bool:
    """Whether a runtime can need a bundle on the node: its own, or through one of its files' origins."""
    entry = runtime_catalog.load().runtimes[runtime]
    if entry.bundles:
        return True
    table = catalog()["artifacts"]
    return any(origin.get("needs") for item in entry.files for origin in table[item["source"]])


def needed(runtimes: tuple[str, ...], provider: str | None, variants: tuple[str, ...] = ()) -> list[str]:
    """The artifacts a lab asks for directly (bundles and build inputs follow from their origins)."""
    from lab import images

    names = ["node-image"] if provider in catalog()["artifacts"]["node-image"] else []
    table = runtime_catalog.load().runtimes
    for runtime in runtimes:
        names += [item["source"] for item in table[runtime].files] + list(table[runtime].bundles)
    for variant in variants:
        names += [BASE_IMAGE_ARTIFACTS[arg] for arg in images.NEEDS[images.image_of(variant)]]
    if provider == "kind" and variants:
        names.append("lab-registry")  # the kind nodes pull from the lab's own registry (lab/registry.py)
    return list(dict.fromkeys(names))


def refuse_old_releases(spec, arch: str | None = None) -> None:
    """refuse_below_floor for every release origin of the catalog, before anything is created."""
    if "release" not in MODE_ORIGINS[spec.offline]:
        return
    arch = arch or host_arch()
    lock = LockFile.load(Path(spec.lock))
    for name, entry in catalog()["artifacts"].items():
        for origin in entry if isinstance(entry, list) else []:
            if origin["origin"] == "release":
                key = f"{name}@{arch}"
                refuse_below_floor(key, origin, (lock.entries.get(key) or {}).get("version") or "",
                                   spec.mirrors.url(origin["url"].format(arch=arch)), lock.path)


class Resolver:
    """Walks each artifact's origins in order; fetches, verifies and remembers what it used."""

    def __init__(self, mode: Offline | str, mirrors: Mirrors, lock: LockFile, arch: str, provider: str | None = None,
                 kubernetes: str = "v1.34.2", kind_version: str | None = None, node_containerd: str = "2"):
        self.mode, self.mirrors, self.lock, self.arch = Offline(mode), mirrors, lock, arch
        self.provider, self.kubernetes, self.node_containerd = provider, kubernetes, node_containerd
        self._kind_version = kind_version
        self.catalog = catalog()
        self.resolved: dict[str, tuple[dict, object]] = {}
        self._reachable: dict[str, str] = {}     # host:port -> "" (reached) or why not
        self._kit_keys: dict[str, str] = {}      # kit recipe -> this checkout's key (kit.plan, nothing built)

    # -- origins and pins (no side effects) -------------------------------------------------------
    def origins(self, name: str) -> list[dict]:
        entry = self.catalog["artifacts"].get(name)
        if entry is None:
            raise LabError(f"{name}: not an artifact of lab/defaults/artifacts.yaml")
        if isinstance(entry, dict):
            entry = entry.get(self.provider) or []
        allowed = MODE_ORIGINS[self.mode]
        return [self.as_locked(name, o) for o in entry
                if o["origin"] in allowed and self.arch in o.get("arches", ARCHES)]

    def as_locked(self, name: str, origin: dict) -> dict:
        """A release origin at the release lab.lock names for it, when the entry's URL is the catalog's
        at that version (`lab.pins --write` moves a pin to a newer release upstream's checksums
        confirm): the catalog's URL and member at that version.
        The engine follows when its version is the release's; otherwise it is named by the release."""
        entry = self.lock.entries.get(f"{name}@{self.arch}") or {}
        locked, version = entry.get("version"), origin.get("version")
        if origin["origin"] != "release" or not version or not isinstance(locked, str) or locked == version \
                or not RELEASE_TAG.fullmatch(locked) \
                or entry.get("source") != origin["url"].format(arch=self.arch).replace(version, locked):
            return origin
        moved = {**origin, "version": locked, "url": origin["url"].replace(version, locked),
                 "member": origin["member"].replace(version, locked)}
        engine = origin.get("engine")
        if engine:
            same = str(engine["version"]) == version.removeprefix("v")
            project = (origin.get("floor") or {}).get("of", "release")
            moved["engine"] = {**engine, "version": locked.removeprefix("v") if same else f"of {project} {locked}"}
        return moved

    def release_pin(self, name: str, origin: dict) -> tuple[str, str, str]:
        """(canonical URL, lock key, sha256 to expect) for a release origin."""
        url = origin["url"].format(arch=self.arch)
        key = f"{name}@{self.arch}"
        built_in = (origin.get("sha256") or {}).get(self.arch) or ""
        locked = self.lock.pin(key, url)
        refuse_below_floor(key, origin, (locked or {}).get("version") or "", self.mirrors.url(url), self.lock.path)
        return url, key, (locked or {}).get("sha256") or built_in

    def unpinned(self, url: str, origin: dict) -> Unavailable:
        """Why a release origin cannot be used on this architecture: no sha256 pinned, and the
        catalog's reason (`unpinned:`) when it gives one."""
        why = (origin.get("unpinned") or {}).get(self.arch)
        return Unavailable(f"no sha256 is pinned for {url}" + (f" ({why})" if why else ""))

    def registry_pin(self, name: str, origin: dict) -> tuple[ImageRef, str]:
        """(canonical reference without digest, digest to expect) for a registry origin."""
        ref = ImageRef.parse(self.kind_node_ref() if origin.get("from") == "kind-node-images" else origin["ref"])
        bare = replace(ref, digest="")
        locked = self.lock.pin(name, str(bare))
        return bare, (locked or {}).get("digest") or ref.digest

    def kind_node_ref(self) -> str:
        table = self.catalog["kind-node-images"]
        oldest, newest = self.catalog["oldest-kind"], max(table, key=version_tuple)
        version = self._kind_version = self._kind_version or installed_kind_version() or newest
        if version_tuple(version) < version_tuple(oldest):
            raise LabError(f"kind {version} is too old: the lab's node images need kind >= {oldest}; "
                           f"install kind {newest}")
        release = max((v for v in table if version_tuple(v) <= version_tuple(version)), key=version_tuple)
        minor = "v" + ".".join(self.kubernetes.lstrip("v").split(".")[:2])
        if minor not in table[release]:
            raise Unavailable(f"kind {release} publishes no node image for Kubernetes {minor} "
                              f"(it has {', '.join(sorted(table[release]))})")
        return table[release][minor]

    # -- resolution -------------------------------------------------------------------------------
    def get(self, name: str):
        if name in self.resolved:
            return self.resolved[name][1]
        origins = self.origins(name)
        if not origins:
            raise LabError(f"{name}: nothing can provide it{self.mode_phrase()} on {self.arch}"
                           + ("; drop --offline" if self.mode == Offline.KIT else "; drop --online to use the offline kit"))
        for index, origin in enumerate(origins):
            try:
                value = FETCHERS[origin["origin"]](self, name, origin)
            except Unavailable as why:
                if self.mode == Offline.AUTO and index + 1 < len(origins):
                    console.print(f"{name}: {why}; using {self.describe(origins[index + 1])} instead", soft_wrap=True)
                    continue
                hint = "; without --online the lab falls back to the offline kit" if self.mode == Offline.UPSTREAM else ""
                raise LabError(f"{name}: {why}{hint}")
            self.resolved[name] = (origin, value)
            for need in getattr(value, "needs", ()):
                self.get(need)
            return value

    def mode_phrase(self) -> str:
        return {Offline.AUTO: "", Offline.UPSTREAM: " online", Offline.KIT: " offline"}[self.mode]

    def probe(self, host: str, port: int) -> None:
        """auto only: fail fast (Unavailable) when an origin's host cannot be reached at all."""
        if self.mode != Offline.AUTO:
            return
        key = f"{host}:{port}"
        if key not in self._reachable:
            try:
                socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
                self._reachable[key] = ""
            except OSError as error:
                self._reachable[key] = error.strerror or str(error)
        if self._reachable[key]:
            raise Unavailable(f"{key} unreachable ({self._reachable[key]})")

    def probe_url(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.probe(parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80))

    def probe_address(self, address: str) -> None:
        """host[:port] (443 without one), a registry's host mapped to where its pulls go."""
        host, _, port = self.catalog["registry-hosts"].get(address, address).partition(":")
        self.probe(host, int(port or 443))

    def note_lock_override(self, name: str, built_in: str | None, locked: str) -> None:
        if built_in and built_in.removeprefix("sha256:") != locked.removeprefix("sha256:"):
            console.print(f"{name}: using lab.lock's pin {locked[:19]}…, not the lab's built-in {built_in[:19]}…",
                          soft_wrap=True)

    def describe(self, origin: dict) -> str:
        kind = origin["origin"]
        if kind == "release":
            return f"release {origin.get('version', '')}".strip()
        if kind in ("kit", "debian"):
            return f"{'kit' if kind == 'kit' else 'Debian packages via kit'} recipe {self.kit_artifact(origin)}"
        return {"registry": "registry image", "build": "local build", "default": "provider default"}[kind]

    def engine(self, name: str) -> dict | None:
        """The engine a resolved artifact carries: its origin's, or (a local build) its inputs'."""
        origin = self.resolved[name][0]
        found = engines.of_origin(origin)
        for dep in origin.get("inputs", {}).values():
            found = found or (self.engine(dep) if dep in self.resolved else None)
        return found

    def kit_artifact(self, origin: dict) -> str:
        return (origin.get("by-containerd") or {}).get(self.node_containerd, origin["artifact"])

    def identity(self, name: str, origin: dict, value=None) -> str | None:
        """What an image from `origin` is, the same on every machine, from pins alone: a kit
        recipe's key (this checkout's recipe inputs), a registry digest; a local build's tag (a hash
        of its pinned inputs) once built. The workload images' inputs digest names base images by it."""
        if origin["origin"] in ("kit", "debian"):
            artifact = self.kit_artifact(origin)
            self._kit_keys = self._kit_keys or {item.recipe.name: item.key for item in kit.plan()}
            return f"kit {artifact} {self._kit_keys[artifact]}"
        if origin["origin"] == "registry":
            bare, digest = self.registry_pin(name, origin)
            return f"{bare}@{digest}" if digest else None
        return getattr(value, "ref", None)

    def identities(self, name: str) -> list[tuple[dict, str]]:
        """(origin, identity) of each origin of `name` this mode allows whose identity the pins say."""
        found = [(origin, self.identity(name, origin)) for origin in self.origins(name)]
        return [(origin, identity) for origin, identity in found if identity]


def resolve(spec, runtimes: tuple[str, ...], variants: tuple[str, ...] = (), provider: str | None = None,
            arch: str | None = None) -> Artifacts:
    """Everything the lab needs for these runtimes, variants and provider, fetched and verified."""
    resolver = Resolver(spec.offline, spec.mirrors, LockFile.load(Path(spec.lock)), arch or host_arch(),
                        provider, spec.kubernetes, node_containerd=spec.node_containerd)
    from lab import images

    artifacts = Artifacts(MODE_NAMES[spec.offline])
    prebuilt = _prebuilt_bases(resolver, images.targets_for(variants, runtimes))
    for name, (origin, identity) in prebuilt.items():
        artifacts.origins[name] = f"{resolver.describe(origin)}, in prebuilt workload images"
        artifacts.engines[name] = engines.of_origin(origin)
        artifacts.identities[name] = identity
    for name in needed(runtimes, provider, variants):
        if name in prebuilt:
            continue
        value = resolver.get(name)
        if name == "node-image":
            artifacts.node_image = value.ref if value else None
        elif isinstance(value, LocalImage):
            artifacts.images[name] = value
    for name, (origin, value) in resolver.resolved.items():
        artifacts.origins[name] = resolver.describe(origin)
        artifacts.engines[name] = resolver.engine(name)
        if isinstance(value, (LocalFile, LocalBundle)):
            artifacts.files[name] = value
        if name in BASE_IMAGE_ARTIFACTS.values():
            resolved_as = resolver.identity(name, origin, value)
            if resolved_as:
                artifacts.identities[name] = resolved_as
    if resolver.lock.save():
        console.print(f"wrote {resolver.lock.path}: the pins of {len(resolver.lock.entries)} upstream artifact(s)")
    return artifacts


def _prebuilt_bases(resolver: Resolver, targets: list[str]) -> dict[str, tuple[dict, str]]:
    """The base image artifacts no build needs, by name, with the origin and identity the prebuilt
    images were built with. A target whose image carries the label of its inputs, with base
    identities from this mode's origins (images.prebuilt_with), is left unbuilt. A base that a
    target to build needs (or that prebuilt images name differently) is resolved; a prebuilt image
    made with another identity of it is then built too, until nothing changes."""
    from lab import images

    options = {arg: resolver.identities(BASE_IMAGE_ARTIFACTS[arg])
               for arg in dict.fromkeys(arg for target in targets for arg in images.NEEDS[target])}
    matched: dict[str, dict[str, str]] = {}
    client = images._client() if targets else None
    for target in targets:
        found = images.prebuilt_with(target, {arg: [i for _, i in options[arg]] for arg in images.NEEDS[target]},
                                     client)
        if found is not None:
            matched[target] = found
    while True:
        named: dict[str, set[str]] = {}
        for found in matched.values():
            for arg, identity in found.items():
                named.setdefault(arg, set()).add(identity)
        fixed = {arg for target in targets if target not in matched for arg in images.NEEDS[target]}
        fixed |= {arg for arg, identities in named.items() if len(identities) > 1}
        resolved = {}
        for arg in fixed:
            name = BASE_IMAGE_ARTIFACTS[arg]
            value = resolver.get(name)
            resolved[arg] = resolver.identity(name, resolver.resolved[name][0], value)
        clashing = [target for target, found in matched.items()
                    if any(arg in resolved and resolved[arg] != identity for arg, identity in found.items())]
        if not clashing:
            break
        for target in clashing:
            del matched[target]
    return {BASE_IMAGE_ARTIFACTS[arg]: next((o, i) for o, i in options[arg] if i == identity)
            for found in matched.values() for arg, identity in found.items() if arg not in fixed}


def image(spec, name: str, arch: str | None = None) -> str:
    """The local reference of one image artifact by name (e.g. `bench-loadgen`), taken from its
    origins in the lab's mode and verified, as resolve() does for the images a lab builds from."""
    resolver = Resolver(spec.offline, spec.mirrors, LockFile.load(Path(spec.lock)), arch or host_arch(),
                        kubernetes=spec.kubernetes, node_containerd=spec.node_containerd)
    value = resolver.get(name)
    if not isinstance(value, LocalImage):
        raise LabError(f"{name}: not an image artifact of lab/defaults/artifacts.yaml")
    if resolver.lock.save():
        console.print(f"wrote {resolver.lock.path}: the pins of {len(resolver.lock.entries)} upstream artifact(s)")
    return value.ref

