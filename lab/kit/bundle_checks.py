"""What a kit bundle may say, checked before anything of it is written (docs/kit.md, "Trust model").

A bundle comes from another machine, and through a network an attacker may share: its index names
files, folders and Docker tags on this one. Every name is checked here first: artifact names are
plain names, files stay inside their artifact's folder, an image carries only the tag the kit gives
it, and the archive's members are plain files no larger than the archive itself. Nothing here
reads Docker or writes anything; a check that fails raises `Refused` with what it found."""
from __future__ import annotations

import json
import posixpath
import re
import tarfile
import unicodedata
from typing import Callable

from lab import images
from lab.artifacts.kit_sets import run_artifacts
from lab.errors import LabError
from lab.kit.recipes import IMAGE_REPOSITORY, KINDS

SCHEMA = 2
# what a bundle is for: `build` carries the kit whole (builders too), `workshop` what a lab runs
# from and the workload images built with the kit's builders (docs/kit.md, "Bundles")
PURPOSES = ("build", "workshop")
WORKLOAD_KIND = "workload"
INDEX = "wasm-lab-kit.json"
BLOBS = "blobs/sha256"
INDEX_MAX_BYTES = 16 << 20
SMALL_BLOB_MAX_BYTES = 1 << 20  # an image archive's manifest.json, repositories, index.json
BLOB_MAX_BYTES = 1 << 40  # what a compressed blob may declare it expands to
HEX = re.compile(r"[0-9a-f]{64}")
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
VERSION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+~:-]{0,127}")  # Debian's too (1.21-1+dfsg-3.1)
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # what an image's version must also be
IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")
PATH_MAX = 1024
NUMBER = (int, float)
ENTRY_FIELDS: dict[str, tuple] = {
    "name": (str,), "kind": (str,), "version": (str,), "key": (str,), "description": (str,),
    "built_at": (str,), "build_seconds": (*NUMBER, type(None)), "size_bytes": (int, type(None)),
    "imported_from": (dict,), "image": (dict,), "files": (dict,), "executables": (list,),
}
REQUIRED_FIELDS = ("name", "kind", "version", "key")
WORKLOAD_FIELDS: dict[str, tuple] = {"name": (str,), "kind": (str,), "key": (str,), "size_bytes": (int, type(None)),
                                     "image": (dict,)}
MEMBER_KINDS = {tarfile.SYMTYPE: "symbolic link", tarfile.LNKTYPE: "hard link", tarfile.CHRTYPE: "device",
                tarfile.BLKTYPE: "device", tarfile.DIRTYPE: "folder", tarfile.FIFOTYPE: "fifo",
                tarfile.GNUTYPE_SPARSE: "sparse file", tarfile.CONTTYPE: "contiguous file"}


class Refused(LabError):
    """The bundle says something this machine must not do; the caller names the bundle."""


def shown(text: str) -> str:
    """`text` with control and format characters (terminal escapes, bidi overrides) made visible."""
    return "".join(ch.encode("unicode_escape").decode() if unicodedata.category(ch) in ("Cc", "Cf") else ch
                   for ch in text)


# -- the archive's members ----------------------------------------------------------------------------
def check_members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    """The archive's blob members by sha256, after checking every member's header: the index
    first, then `blobs/sha256/<hex>` only, each a plain file (not sparse: what is read of it is
    what the archive holds). Reading every header also finds a truncated archive: tarfile checks
    that each member's data ends inside the file."""
    try:
        members = tar.getmembers()
    except (tarfile.TarError, EOFError, ValueError) as error:  # ValueError: a malformed PAX sparse map
        raise Refused(f"the archive is damaged or truncated ({error})")
    if not members or members[0].name != INDEX:
        raise Refused(f"not a bundle made by kit.export (no {INDEX} first)")
    for member in members:
        _check_plain(member)
    if members[0].size > INDEX_MAX_BYTES:
        raise Refused(f"its index declares {members[0].size} bytes, more than {INDEX_MAX_BYTES}")
    blobs: dict[str, tarfile.TarInfo] = {}
    for member in members[1:]:
        digest = member.name.removeprefix(f"{BLOBS}/")
        if member.name == digest or not HEX.fullmatch(digest):
            raise Refused(f"member '{shown(member.name)}' is neither its index nor a blob")
        blobs.setdefault(digest, member)
    return blobs


def _check_plain(member: tarfile.TarInfo) -> None:
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.sparse is not None:
        kind = "sparse file" if member.sparse is not None else MEMBER_KINDS.get(member.type, "special file")
        raise Refused(f"member '{shown(member.name)}' is a {kind}, not a plain file")


def read_index(tar: tarfile.TarFile) -> object:
    """The index member's JSON (its size was bounded by check_members)."""
    content = tar.extractfile(INDEX)
    if content is None:
        raise Refused(f"its {INDEX} is not a plain file")
    return parse_json(content.read(INDEX_MAX_BYTES + 1), INDEX_MAX_BYTES, "its index")


def parse_json(data: bytes, limit: int, what: str) -> object:
    if len(data) > limit:
        raise Refused(f"{what} is larger than {limit} bytes")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise Refused(f"{what} is not JSON")


# -- the index ----------------------------------------------------------------------------------------
def check_index(index: object, what: str = "its index") -> dict:
    """The index, after checking every field of every entry: {"for": purpose, "artifacts": kit
    artifacts by name, "workloads": workload images by image target}."""
    if not isinstance(index, dict):
        raise Refused(f"{what} is a JSON {type(index).__name__}, not an object")
    unknown = sorted(set(index) - {"schema", "created_at", "for", "artifacts", "workloads", "encoded"})
    if unknown:
        raise Refused(f"{what} has an unknown field '{shown(unknown[0])}'")
    if index.get("schema") != SCHEMA:
        raise Refused(f"schema {shown(repr(index.get('schema')))[:40]}; this wasm-lab reads {SCHEMA}")
    _text(index.get("created_at", ""), f"{what}: created_at")
    purpose = index.get("for")
    if purpose not in PURPOSES:
        raise Refused(f"{what}: for is {shown(repr(purpose))[:40]}, not one of {', '.join(PURPOSES)}")
    artifacts = index.get("artifacts")
    if not isinstance(artifacts, dict):
        raise Refused(f"{what}: artifacts is not an object of artifacts by name")
    for name, entry in artifacts.items():
        _check_entry(name, entry)
    workloads = index.get("workloads", {})
    if not isinstance(workloads, dict):
        raise Refused(f"{what}: workloads is not an object of workload images by target")
    if purpose == "build" and workloads:
        raise Refused(f"{what}: a build bundle carries the kit, not workload images")
    if purpose == "workshop":
        builders = sorted(set(artifacts) - run_artifacts())
        if builders:
            raise Refused(f"{what}: artifact {shown(builders[0])} is not one a lab runs from, and a workshop "
                          "bundle carries no builders")
    for name, entry in workloads.items():
        _check_workload(name, entry)
    encoded = index.get("encoded", {})
    if not isinstance(encoded, dict):
        raise Refused(f"{what}: encoded is not an object of compressed blobs by sha256")
    for digest, encoding in encoded.items():
        if not HEX.fullmatch(digest) or not isinstance(encoding, dict) or set(encoding) != {"encoding", "size"} \
                or encoding["encoding"] != "gzip" or not isinstance(encoding["size"], int) \
                or isinstance(encoding["size"], bool) or not 0 <= encoding["size"] <= BLOB_MAX_BYTES:
            raise Refused(f"{what}: encoded blob '{shown(str(digest))[:80]}' is not "
                          f"{{encoding: gzip, size: 0..{BLOB_MAX_BYTES}}} by sha256")
    return {"for": purpose, "artifacts": artifacts, "workloads": workloads, "encoded": encoded}


def _check_workload(name: str, entry: object) -> None:
    """A workload image: one of the lab's image targets, tagged only with the lab's own reference."""
    targets = images.IMAGE_TARGETS + images.JOB_IMAGES
    if name not in targets:
        raise Refused(f"workload '{shown(name)}' is not an image target of the lab ({', '.join(targets)})")
    entry = _check_fields(f"workload {name}", entry, WORKLOAD_FIELDS, ("name", "kind", "key", "image"))
    if entry["name"] != name or entry["kind"] != WORKLOAD_KIND:
        raise Refused(f"workload {name} calls itself '{shown(entry['name'])}' of kind '{shown(entry['kind'])}'")
    if not HEX.fullmatch(entry["key"]):
        raise Refused(f"workload {name}: key is not a sha256 (its build inputs)")
    ref = images.tag(name)
    _check_image(f"workload {name}", ref, entry["image"],
                 f"the lab's own {ref} (a bundle tags workload images only {images.REPOSITORY}:<target>)")


def _check_entry(name: str, entry: object) -> None:
    if not NAME.fullmatch(name):
        raise Refused(f"artifact name '{shown(name)}' is not a kit artifact name (lower-case letters, digits, '-')")
    entry = _check_fields(f"artifact {name}", entry, ENTRY_FIELDS, REQUIRED_FIELDS)
    if entry["name"] != name:
        raise Refused(f"artifact {name} calls itself '{shown(entry['name'])}'")
    if entry["kind"] not in KINDS:
        raise Refused(f"artifact {name}: kind '{shown(entry['kind'])}' is not one of {', '.join(KINDS)}")
    if not VERSION.fullmatch(entry["version"]) or ("image" in entry and not TAG.fullmatch(entry["version"])):
        raise Refused(f"artifact {name}: version '{shown(entry['version'])}' is not a version")
    if not HEX.fullmatch(entry["key"]):
        raise Refused(f"artifact {name}: key is not a sha256")
    for field in ("description", "built_at"):
        _text(entry.get(field, ""), f"artifact {name}: {field}")
    if ("image" in entry) == ("files" in entry) or ("image" in entry) != (entry["kind"] != "files"):
        raise Refused(f"artifact {name} of kind {entry['kind']} needs "
                      + ("files" if entry["kind"] == "files" else "an image") + " and nothing else")
    if "image" in entry:
        ref = kit_ref(name, entry["version"])
        _check_image(f"artifact {name}", ref, entry["image"],
                     f"the kit's own {ref} (a bundle tags only {IMAGE_REPOSITORY}/<artifact>:<version>)")
    else:
        _check_files(name, entry["files"], entry.get("executables", []))


def _check_fields(what: str, entry: object, fields: dict[str, tuple], required: tuple[str, ...]) -> dict:
    """`entry`, once checked: an object of known fields only, each of its JSON type (never a bool
    for a number), the required ones there."""
    if not isinstance(entry, dict):
        raise Refused(f"{what} is not an object")
    for field, value in entry.items():
        if field not in fields:
            raise Refused(f"{what} has an unknown field '{shown(field)}'")
        if not isinstance(value, fields[field]) or isinstance(value, bool):
            raise Refused(f"{what}: {field} is a JSON {type(value).__name__}")
    missing = [field for field in required if field not in entry]
    if missing:
        raise Refused(f"{what} has no {missing[0]}")
    return entry


def _text(value: object, what: str) -> None:
    if not isinstance(value, str) or shown(value) != value or len(value) > 4096:
        raise Refused(f"{what} is not one line of text")


def check_path(path: object, what: str) -> str:
    """A path inside its artifact: relative, normalised, no '..', no control characters."""
    if not isinstance(path, str) or not path or len(path) > PATH_MAX:
        raise Refused(f"{what} has a path that is not a file name: {shown(repr(path))[:80]}")
    if path.startswith("/") or posixpath.normpath(path) != path or {".", ".."} & set(path.split("/")) \
            or "\\" in path or shown(path) != path:
        raise Refused(f"{what}: path '{shown(path)}' is not relative and inside its artifact")
    return path


def _check_files(name: str, files: dict, executables: list) -> None:
    if not files:
        raise Refused(f"artifact {name} holds no files")
    for path, digest in files.items():
        check_path(path, f"artifact {name}")
        if not isinstance(digest, str) or not HEX.fullmatch(digest):
            raise Refused(f"artifact {name}: {path} has no sha256")
    clash = sorted(folder for path in files for folder in _parents(path) if folder in files)
    if clash:
        raise Refused(f"artifact {name}: {clash[0]} is both a file and a folder")
    for path in executables:
        if path not in files:
            raise Refused(f"artifact {name}: executable '{shown(str(path))}' is not one of its files")


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _check_image(what: str, ref: str, image: dict, rule: str) -> None:
    """An image entry's ref (exactly `ref`), id and `docker save` archive members."""
    if set(image) != {"ref", "id", "archive"}:
        raise Refused(f"{what}: its image needs ref, id and archive, and nothing else")
    if image["ref"] != ref:
        raise Refused(f"{what}: image '{shown(str(image['ref']))}' is not {rule}")
    if not isinstance(image["id"], str) or not IMAGE_ID.fullmatch(image["id"]):
        raise Refused(f"{what}: image id is not sha256:<hex>")
    archive = image["archive"]
    if not isinstance(archive, list) or not archive:
        raise Refused(f"{what}: its image archive lists no members")
    seen: set[str] = set()
    for member in archive:
        _check_archive_member(what, member, seen)
    _check_links_lead_to_no_link(what, {m["name"]: m["target"] for m in archive if m.get("type") == "symlink"})


def _check_links_lead_to_no_link(what: str, links: dict[str, str]) -> None:
    """Each link is checked where its words lead, which is where it lands only when nothing on its
    way is itself a link (`b -> .` then `a -> b/..` lands outside): a link through a link is refused."""
    for path, target in links.items():
        walked = posixpath.dirname(path)
        for part in target.split("/"):
            walked = posixpath.join(walked, part) if walked else part
            if posixpath.normpath(walked) in links:
                raise Refused(f"{what}: image archive link {path} leads through another link")


def kit_ref(name: str, version: str) -> str:
    return f"{IMAGE_REPOSITORY}/{name}:{version}"


def _check_archive_member(what: str, member: object, seen: set[str]) -> None:
    if not isinstance(member, dict):
        raise Refused(f"{what}: an image archive member is not an object")
    path = check_path(member.get("name"), f"{what}'s image archive")
    if path in seen:
        raise Refused(f"{what}: image archive member {path} is listed twice")
    seen.add(path)
    kind = member.get("type", "file")
    fields = {"file": {"name", "sha256"}, "dir": {"name", "type"}, "symlink": {"name", "type", "target"}}.get(kind)
    if fields is None or set(member) != fields:
        raise Refused(f"{what}: image archive member {path} is not a file, folder or link")
    if kind == "file" and not (isinstance(member["sha256"], str) and HEX.fullmatch(member["sha256"])):
        raise Refused(f"{what}: image archive member {path} has no sha256")
    if kind == "symlink":
        target = member["target"]
        landing = posixpath.normpath(posixpath.join(posixpath.dirname(path), str(target)))
        if not isinstance(target, str) or target.startswith("/") or landing.split("/")[0] == ".." \
                or shown(target) != target:
            raise Refused(f"{what}: image archive link {path} points outside the archive")


def blobs_of(entry: dict) -> list[str]:
    """Every blob an entry unpacks to, once per file it becomes (so sizes add up to what is written)."""
    if "image" in entry:
        return [member["sha256"] for member in entry["image"]["archive"] if "sha256" in member]
    return list(entry["files"].values())


# -- an image's docker save archive ---------------------------------------------------------------------
def check_image_archive(entry: dict, read_blob: Callable[[str], bytes]) -> None:
    """The archive `docker load` will read names the entry's ref and nothing else, and its image
    config is the entry's image id: loading it can neither tag another image nor give another id."""
    name = f"{'workload' if entry['kind'] == WORKLOAD_KIND else 'artifact'} {entry['name']}"
    ref, image_id = entry["image"]["ref"], entry["image"]["id"]
    files = {member["name"]: member["sha256"] for member in entry["image"]["archive"] if "sha256" in member}

    def document(path: str) -> object:
        return parse_json(read_blob(files[path]), SMALL_BLOB_MAX_BYTES, f"{name}'s {path}")

    if "manifest.json" not in files:
        raise Refused(f"{name}: its image archive has no manifest.json")
    manifest = document("manifest.json")
    if not (isinstance(manifest, list) and len(manifest) == 1 and isinstance(manifest[0], dict)):
        raise Refused(f"{name}: its image archive's manifest.json does not describe one image")
    if manifest[0].get("RepoTags") != [ref]:
        raise Refused(f"{name}: its image archive tags {shown(str(manifest[0].get('RepoTags')))[:200]}, "
                      f"the index says [{ref!r}]")
    config = manifest[0].get("Config")
    if not isinstance(config, str) or "sha256:" + files.get(config, "") != image_id:
        raise Refused(f"{name}: its image archive's config is not image {image_id}")
    if entry["kind"] == WORKLOAD_KIND:
        labels = _labels(document(config))
        if labels.get(images.BUILD_INPUTS) != entry["key"]:
            raise Refused(f"{name}: its image's label {images.BUILD_INPUTS} is not its key (its build inputs)")
    repository, tag = ref.rsplit(":", 1)
    if "repositories" in files:
        repositories = document("repositories")
        if not (isinstance(repositories, dict) and list(repositories) == [repository]
                and isinstance(repositories[repository], dict) and list(repositories[repository]) == [tag]):
            raise Refused(f"{name}: its image archive's repositories file names other tags than {ref}")
    if "index.json" in files:
        _check_oci_names(name, ref, tag, document("index.json"))


def _labels(config: object) -> dict:
    inner = config.get("config") if isinstance(config, dict) else None
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    return labels if isinstance(labels, dict) else {}


def _check_oci_names(name: str, ref: str, tag: str, index: object) -> None:
    """An OCI layout's index names images by annotations, which newer engines tag on load."""
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise Refused(f"{name}: its image archive's index.json lists no manifests")
    for manifest in manifests:
        annotations = (manifest.get("annotations") or {}) if isinstance(manifest, dict) else None
        if not isinstance(annotations, dict) \
                or annotations.get("io.containerd.image.name", ref) not in (ref, f"docker.io/{ref}") \
                or annotations.get("org.opencontainers.image.ref.name", tag) not in (tag, ref):
            raise Refused(f"{name}: its image archive's index.json names other images than {ref}")
