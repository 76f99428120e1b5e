"""One store for everything the lab installs or builds from: node image, shims, bundles, base images.

Each artifact has an ordered list of origins (lab/defaults/artifacts.yaml): a pinned upstream
download or pull (through the lab's mirrors), an image built here from pinned inputs, a kit recipe.
The mode picks which origins count (`--online`, `--offline`, or `auto`, which falls back to the next
origin with one line when one cannot be reached or verified). Nothing is used before its sha256 or
digest matched the pin: lab.lock's when the lab has one, the catalog's otherwise."""
from __future__ import annotations

import hashlib
import platform
import re
import shutil
import socket
import tempfile
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from lab import REPO_ROOT, engines, kit
from lab import catalog as runtime_catalog
from lab.engines import BASE_IMAGE_ARTIFACTS
from lab.errors import InputError, LabError
from lab.fetch import Unavailable, atomic_write, download_path, extracted_member, http_get, pull
from lab.kit.store import sha256_file
from lab.lock import LockFile
from lab.mirrors import ImageRef, Mirrors
from lab.proc import console, run

DEFAULTS = Path(__file__).parent / "defaults"
ARCHES = ("x86_64", "aarch64")
ARCH_ALIASES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
# Which origins each mode may use (spec.offline: "auto", "false" = --online, "true" = --offline).
MODE_ORIGINS = {
    "auto": ("release", "registry", "build", "debian", "kit", "default"),
    "false": ("release", "registry", "build", "debian", "default"),
    "true": ("debian", "kit"),
}
MODE_NAMES = {"auto": "auto", "false": "online", "true": "offline"}
PROBE_SECONDS = 3.0
RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+")


def verified_bytes(path: Path, sha256: str) -> bytes:
    """A cached file's bytes, checked against its pin at the moment they are used: the cache may
    have been written since the file was resolved."""
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise LabError(f"{path}: sha256 {actual}, expected {sha256}; not used (the cache changed since it was verified)")
    return data


@dataclass(frozen=True)
class LocalFile:
    path: Path
    sha256: str                         # the pin: lab.lock's, the verified archive's or the kit manifest's
    needs: tuple[str, ...] = ()         # bundles this file needs on the node (per origin)

    def verified_bytes(self) -> bytes:
        return verified_bytes(self.path, self.sha256)


@dataclass(frozen=True)
class LocalBundle:
    """A directory installed as a whole on a node (e.g. .debs and their install script)."""
    path: Path
    files: dict[str, str]               # relative path -> sha256

    def verified_bytes(self, relative: str) -> bytes:
        return verified_bytes(self.path / relative, self.files[relative])

    @property
    def digest(self) -> str:
        return hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(self.files.items())).encode()).hexdigest()


@dataclass(frozen=True)
class LocalImage:
    ref: str                            # what docker build / kind use
    digest: str = ""                    # registry digest (kit images are pinned by the kit manifest)


@dataclass
class Artifacts:
    mode: str
    node_image: str | None = None
    files: dict[str, LocalFile | LocalBundle] = field(default_factory=dict)
    images: dict[str, LocalImage] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)   # artifact -> origin it came from
    engines: dict[str, dict | None] = field(default_factory=dict)  # artifact -> {name, version} of its engine

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


def catalog() -> dict:
    return yaml.safe_load((DEFAULTS / "artifacts.yaml").read_text())


def host_arch() -> str:
    machine = platform.machine()
    if machine not in ARCH_ALIASES:
        raise InputError(f"architecture: {machine} is not supported; wasm-lab runs on {' and '.join(ARCHES)}")
    return ARCH_ALIASES[machine]


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:3])


def installed_kind_version() -> str | None:
    binary = shutil.which("kind")
    if binary is None:
        return None
    found = re.search(r"v\d+\.\d+\.\d+", run([binary, "version"]).stdout)
    return found.group(0) if found else None


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


def kit_artifacts(provider: str = "kind", node_containerd: str = "2") -> list[str]:
    """The kit artifacts a lab with every runtime and variant uses offline, and the bench's load
    generator: what a kit bundle holds unless told otherwise."""
    table = catalog()["artifacts"]
    every = runtime_catalog.load()
    names = needed(tuple(every.runtimes), provider, tuple(every.variants)) + ["bench-loadgen"]
    found: list[str] = []
    while names:
        entry = table[names.pop(0)]
        origins = (entry.get(provider) or []) if isinstance(entry, dict) else entry
        for origin in origins:
            if origin["origin"] in MODE_ORIGINS["true"]:
                found += [(origin.get("by-containerd") or {}).get(node_containerd, origin["artifact"]),
                          *origin.get("tools", [])]
                names += list(origin.get("needs", ()))
                break
    return list(dict.fromkeys(found))


def refuse_below_floor(key: str, origin: dict, locked_version: str, mirrored: str, lock_path: Path) -> None:
    """Bad input (one line) when lab.lock or a mirror puts a release older than the origin's
    `floor` in its place: the version the lock records, or the release tag a mirror's URL names
    instead of the catalog's."""
    floor = origin.get("floor")
    if not floor:
        return
    refused = f"{floor['of']} older than {floor['version']} is refused ({floor['why']})"
    if locked_version and version_tuple(locked_version) < version_tuple(floor["version"]):
        raise InputError(f"lock: {lock_path} pins {key} to {floor['of']} {locked_version}; {refused}; "
                         "delete that entry")
    tags = RELEASE_TAG.findall(urllib.parse.unquote(mirrored))
    older = [tag for tag in tags if version_tuple(tag) < version_tuple(floor["version"])]
    if older and origin.get("version") not in tags:
        raise InputError(f"mirrors: {key} would come from {mirrored}, {floor['of']} {older[0]}; {refused}")


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

    def __init__(self, mode: str, mirrors: Mirrors, lock: LockFile, arch: str, provider: str | None = None,
                 kubernetes: str = "v1.34.2", kind_version: str | None = None, node_containerd: str = "2"):
        self.mode, self.mirrors, self.lock, self.arch = mode, mirrors, lock, arch
        self.provider, self.kubernetes, self.node_containerd = provider, kubernetes, node_containerd
        self._kind_version = kind_version
        self.catalog = catalog()
        self.resolved: dict[str, tuple[dict, object]] = {}
        self._reachable: dict[str, str] = {}     # host:port -> "" (reached) or why not

    # -- origins and pins (no side effects) -------------------------------------------------------
    def origins(self, name: str) -> list[dict]:
        entry = self.catalog["artifacts"].get(name)
        if entry is None:
            raise LabError(f"{name}: not an artifact of lab/defaults/artifacts.yaml")
        if isinstance(entry, dict):
            entry = entry.get(self.provider) or []
        allowed = MODE_ORIGINS[self.mode]
        return [o for o in entry if o["origin"] in allowed and self.arch in o.get("arches", ARCHES)]

    def release_pin(self, name: str, origin: dict) -> tuple[str, str, str]:
        """(canonical URL, lock key, sha256 to expect) for a release origin."""
        url = origin["url"].format(arch=self.arch)
        key = f"{name}@{self.arch}"
        built_in = (origin.get("sha256") or {}).get(self.arch) or ""
        locked = self.lock.pin(key, url)
        refuse_below_floor(key, origin, (locked or {}).get("version") or "", self.mirrors.url(url), self.lock.path)
        return url, key, (locked or {}).get("sha256") or built_in

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
                           + ("; drop --offline" if self.mode == "true" else "; drop --online to use the offline kit"))
        for index, origin in enumerate(origins):
            try:
                value = getattr(self, f"_fetch_{origin['origin']}")(name, origin)
            except Unavailable as why:
                if self.mode == "auto" and index + 1 < len(origins):
                    console.print(f"{name}: {why}; using {self.describe(origins[index + 1])} instead", soft_wrap=True)
                    continue
                hint = "; without --online the lab falls back to the offline kit" if self.mode == "false" else ""
                raise LabError(f"{name}: {why}{hint}")
            self.resolved[name] = (origin, value)
            for need in getattr(value, "needs", ()):
                self.get(need)
            return value

    def mode_phrase(self) -> str:
        return {"auto": "", "false": " online", "true": " offline"}[self.mode]

    def probe(self, host: str, port: int) -> None:
        """auto only: fail fast (Unavailable) when an origin's host cannot be reached at all."""
        if self.mode != "auto":
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

    def _fetch_release(self, name: str, origin: dict) -> LocalFile:
        url, key, sha256 = self.release_pin(name, origin)
        if not sha256:
            raise Unavailable(f"no sha256 is pinned for {url}")
        self.note_lock_override(name, (origin.get("sha256") or {}).get(self.arch), sha256)
        archive = download_path(url, sha256)
        cached = sha256_file(archive) if archive.exists() else None
        if cached != sha256:
            if cached is not None:
                console.print(f"{archive}: sha256 {cached}, pinned {sha256}; downloading it again", soft_wrap=True,
                              markup=False)
            mirrored = self.mirrors.url(url)
            self.probe_url(mirrored)
            data = http_get(mirrored)
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha256:
                raise Unavailable(f"sha256 mismatch for {mirrored}: got {actual}, pinned {sha256}; not used")
            atomic_write(archive, data)
        member = origin["member"].format(arch=self.arch)
        locked = self.lock.entries.get(key) or {}
        pinned_member = locked.get("member_sha256") if locked.get("sha256") == sha256 else None
        binary, member_sha256 = extracted_member(archive, member, pinned_member)
        self.lock.record(key, {"origin": "release", "source": url, "version": origin.get("version", ""),
                               "sha256": sha256, "size": archive.stat().st_size, "member": member,
                               "member_sha256": member_sha256})
        return LocalFile(binary, member_sha256)

    def _fetch_registry(self, name: str, origin: dict) -> LocalImage:
        import docker

        bare, digest = self.registry_pin(name, origin)
        if not digest:
            raise Unavailable(f"no digest is pinned for {bare}")
        self.note_lock_override(name, ImageRef.parse(origin.get("ref") or self.kind_node_ref()).digest, digest)
        source = self.mirrors.image(replace(bare, tag="", digest=digest))
        local = str(source)
        client = docker.from_env()
        try:
            client.images.get(local)
        except docker.errors.ImageNotFound:
            self.probe_address(source.registry)
            pull(client, source.repository, digest)
        self.lock.record(name, {"origin": "registry", "source": str(bare), "digest": digest})
        return LocalImage(local, digest)

    def _fetch_build(self, name: str, origin: dict) -> LocalImage:
        import docker

        try:
            inputs = {key: self.get(dep) for key, dep in origin["inputs"].items()}
        except Unavailable:
            raise
        except LabError as error:
            raise Unavailable(str(error))
        dockerfile = REPO_ROOT / origin["dockerfile"]
        digest = hashlib.sha256(dockerfile.read_bytes())
        for key, value in sorted(inputs.items()):
            digest.update(f"{key}={getattr(value, 'sha256', '') or getattr(value, 'digest', '') or value.ref}\0".encode())
        tag = f"{origin['tag']}:{digest.hexdigest()[:16]}"
        client = docker.from_env()
        try:
            client.images.get(tag)
            return LocalImage(tag)
        except docker.errors.ImageNotFound:
            pass
        with tempfile.TemporaryDirectory(prefix="wasm-lab-build-") as context:
            shutil.copy(dockerfile, Path(context) / "Dockerfile")
            buildargs = {}
            for key, value in inputs.items():
                if isinstance(value, LocalFile):
                    (Path(context) / key).write_bytes(value.verified_bytes())
                    (Path(context) / key).chmod(0o755)
                else:
                    buildargs[key] = value.ref
            with console.status(f"{name}: building {tag}"):
                for chunk in client.api.build(path=context, tag=tag, buildargs=buildargs, pull=False, rm=True,
                                              forcerm=True, decode=True):
                    if "error" in chunk:
                        raise LabError(f"{name}: building {tag} failed: {chunk['error'].strip()}")
        return LocalImage(tag)

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

    def _fetch_kit(self, name: str, origin: dict):
        kit.build([self.kit_artifact(origin), *origin.get("tools", [])])
        entry = kit.artifact(self.kit_artifact(origin))
        if "image" in entry:
            return LocalImage(entry["image"]["ref"])
        if "dir" in origin:
            return LocalBundle(Path(entry["path"]), entry["files"])
        relative = origin["file"]
        if relative not in entry["files"]:
            raise LabError(f"kit artifact {entry['name']} has no {relative}; rebuild it "
                           f"(invoke kit.build --force --only {entry['name']})")
        return LocalFile(Path(entry["path"]) / relative, entry["files"][relative], tuple(origin.get("needs", ())))

    _fetch_debian = _fetch_kit

    def _fetch_default(self, name: str, origin: dict):
        if origin.get("probe"):  # where the provider fetches its default from
            self.probe_address(origin["probe"])
        return None

    # -- the plan: what would happen, without fetching --------------------------------------------
    def plan(self, name: str, rows: list[dict]) -> None:
        """Append one row per artifact (and per input or bundle it brings) to `rows`."""
        if any(r["artifact"] == name and r["arch"] == self.arch for r in rows):
            return
        origins = self.origins(name)
        notes = []
        for index, origin in enumerate(origins):
            row = {"artifact": name, "arch": self.arch, "origin": self.describe(origin), "source": "", "pin": "",
                   "engine": engines.label(engines.of_origin(origin)), "note": ""}
            try:
                self._describe(name, origin, row)
            except Unavailable as why:
                notes.append(str(why))
                if self.mode == "auto" and index + 1 < len(origins):
                    continue
                row["note"] = "; ".join(notes) + ": FAILS"
                rows.append(row)
                return
            row["note"] = "; ".join(notes + ([row["note"]] if row["note"] else []))
            mark = len(rows)
            rows.append(row)
            for dep in list(origin.get("inputs", {}).values()) + list(origin.get("needs", [])):
                self.plan(dep, rows)
            lacking = [r["artifact"] for r in rows if r["artifact"] in origin.get("inputs", {}).values()
                       and r["arch"] == self.arch and r["note"].endswith("FAILS")]
            if lacking and self.mode == "auto" and index + 1 < len(origins):  # as get() falls back
                del rows[mark:]
                notes.append(f"{', '.join(lacking)} cannot be had")
                continue
            for dep in origin.get("inputs", {}).values():  # a local build carries its inputs' engine
                row["engine"] = row["engine"] or next(
                    (r["engine"] for r in rows if r["artifact"] == dep and r["arch"] == self.arch), "")
            return
        rows.append({"artifact": name, "arch": self.arch, "origin": "-", "source": "", "pin": "", "engine": "",
                     "note": f"nothing can provide it{self.mode_phrase()}: FAILS"})

    def _describe(self, name: str, origin: dict, row: dict) -> None:
        kind = origin["origin"]
        if kind == "release":
            url, key, sha256 = self.release_pin(name, origin)
            row["source"], row["pin"] = self.mirrors.url(url), sha256 and f"sha256:{sha256}"
            if not sha256:
                raise Unavailable(f"no sha256 pinned for {url}")
            if key in self.lock.entries:
                row["note"] = "locked"
            cached = download_path(url, sha256)
            if cached.exists() and sha256_file(cached) == sha256:
                row["note"] = (row["note"] + ", " if row["note"] else "") + "downloaded already"
                return
            self.probe_url(row["source"])
        elif kind == "registry":
            bare, digest = self.registry_pin(name, origin)
            source = self.mirrors.image(replace(bare, digest=digest))
            row["source"], row["pin"] = str(source), digest
            if not digest:
                raise Unavailable(f"no digest pinned for {bare}")
            if name in self.lock.entries:
                row["note"] = "locked"
            self.probe_address(source.registry)
        elif kind == "build":
            row["source"] = f"{origin['dockerfile']} from " + ", ".join(origin["inputs"].values())
            row["pin"] = "its inputs' pins"
        elif kind in ("kit", "debian"):
            row["source"] = f"kit recipe images/kit/{self.kit_artifact(origin)}"
            row["pin"] = origin.get("packages") or "kit manifest (sha256 per file)"
            row["note"] = "built here from Debian's packages, about a minute" if kind == "debian" \
                else "built here from package registries (the first build can take long)"
        else:
            row["source"], row["pin"], row["note"] = f"{self.provider}'s own default", "pinned by the provider", ""
            if origin.get("probe"):
                self.probe_address(origin["probe"])


def resolve(spec, runtimes: tuple[str, ...], variants: tuple[str, ...] = (), provider: str | None = None,
            arch: str | None = None) -> Artifacts:
    """Everything the lab needs for these runtimes, variants and provider, fetched and verified."""
    resolver = Resolver(spec.offline, spec.mirrors, LockFile.load(Path(spec.lock)), arch or host_arch(),
                        provider, spec.kubernetes, node_containerd=spec.node_containerd)
    artifacts = Artifacts(MODE_NAMES[spec.offline])
    for name in needed(runtimes, provider, variants):
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
    if resolver.lock.save():
        console.print(f"wrote {resolver.lock.path}: the pins of {len(resolver.lock.entries)} upstream artifact(s)")
    return artifacts


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


def plan(spec, runtimes: tuple[str, ...], variants: tuple[str, ...], provider: str | None,
         arches: tuple[str, ...]) -> list[dict]:
    """What resolve() would fetch or build, from where, with which pin, per architecture."""
    lock = LockFile.load(Path(spec.lock))
    rows: list[dict] = []
    for arch in arches:
        resolver = Resolver(spec.offline, spec.mirrors, lock, arch, provider, spec.kubernetes,
                            node_containerd=spec.node_containerd)
        for name in needed(runtimes, provider, variants):
            resolver.plan(name, rows)
    return rows
