"""lab.pins: each upstream pin against upstream's own release metadata, with nothing fetched here.

What upstream says arrives already fetched (lab/upstream.py, through the lab's mirrors) as
untrusted text: every parser here keeps only what matches whole (versions, sha256 values, asset
names) and drops the rest. The pins are the release origins of lab/defaults/artifacts.yaml per
architecture (lab.lock's entry in their place when it has one) and the kind node images of
`kind-node-images`. A row's status:
  current      the pin is upstream's own checksum of the newest release
  behind       a newer release (or, unpinned, a checksum upstream confirms) is there
  unconfirmed  no second source names the pin (no checksum published for it)
  mismatch     upstream's checksum differs from the pin (or upstream's own sources disagree)
  unreachable  that source could not be fetched or read"""
from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass

from lab.artifacts.host import ARCHES, version_tuple

VERSION = re.compile(r"v\d{1,4}\.\d{1,4}\.\d{1,4}")
SHA256 = re.compile(r"[0-9a-f]{64}")
ASSET_NAME = re.compile(r"[A-Za-z0-9._+-]{1,200}")
RELEASE_URL = re.compile(r"https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/releases/download/([^/]+)/([^/]+)")
NODE_IMAGE = re.compile(r"kindest/node:(v\d{1,4}\.\d{1,4}\.\d{1,4})@sha256:([0-9a-f]{64})")
CHECKSUM_FILES = ("SHA256SUMS", "{asset}.sha256")
STATUSES = ("current", "behind", "unconfirmed", "mismatch", "unreachable")
KIND_REPO = ("kubernetes-sigs", "kind")


@dataclass(frozen=True)
class ReleasePin:
    """One release origin for one architecture, as the lab pins it now."""
    key: str            # the lab.lock key: shim-wasmtime@x86_64
    owner: str
    repo: str
    tag_prefix: str     # "containerd-shim-wasmtime/" (runwasi), "" (wasmtime)
    version: str
    asset: str          # the asset's name at `version`
    url: str            # canonical URL at `version`
    sha256: str         # "" when nothing is pinned
    floor: str
    line: str = ""      # "major": newer releases of the same major version only

    def newest(self, releases: dict[str, dict]) -> str:
        """The newest release upstream has of this pin's line (its own version when none is listed)."""
        major = version_tuple(self.version)[:1]
        found = newest(releases, self.tag_prefix, major if self.line == "major" else ())
        return found if version_tuple(found) > version_tuple(self.version) else self.version

    def at(self, version: str) -> tuple[str, str]:
        """(asset name, canonical URL) of the same file in another release."""
        return self.asset.replace(self.version, version), self.url.replace(self.version, version)


def release_pins(catalog: dict, lock_entries: dict) -> list[ReleasePin]:
    """Every release origin of the catalog per architecture; lab.lock's entry in its place."""
    pins = []
    for name, entry in catalog["artifacts"].items():
        for origin in entry if isinstance(entry, list) else []:
            if origin["origin"] != "release":
                continue
            for arch in ARCHES:
                key, version = f"{name}@{arch}", origin["version"]
                url, sha256 = origin["url"].format(arch=arch), (origin.get("sha256") or {}).get(arch) or ""
                locked = lock_entries.get(key) or {}
                moved = str(locked.get("version") or version)
                if VERSION.fullmatch(moved) and locked.get("source") == url.replace(version, moved) \
                        and SHA256.fullmatch(str(locked.get("sha256", ""))):
                    url, version, sha256 = locked["source"], moved, locked["sha256"]
                owner, repo, tag, asset = RELEASE_URL.fullmatch(url).groups()  # type: ignore[union-attr]
                tag = urllib.parse.unquote(tag)
                pins.append(ReleasePin(key, owner, repo, tag.removesuffix(version), version, asset, url, sha256,
                                       (origin.get("floor") or {}).get("version", ""), origin.get("line", "")))
    return pins


# -- parsers of upstream's answers (untrusted) ----------------------------------------------------
def parse_releases(text: str) -> dict[str, dict]:
    """GitHub's `releases` JSON (a list) as {tag: {"assets": {name: {"sha256", "size"}}, "notes"}},
    published releases only; anything not shaped like it is left out."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("not a list of releases")
    releases: dict[str, dict] = {}
    for item in data:
        if not isinstance(item, dict) or item.get("draft") is not False or item.get("prerelease") is not False:
            continue
        tag = item.get("tag_name")
        if not isinstance(tag, str) or len(tag) > 200:
            continue
        assets, listed = {}, item.get("assets")
        for asset in listed if isinstance(listed, list) else []:
            name = asset.get("name") if isinstance(asset, dict) else None
            if not isinstance(name, str) or not ASSET_NAME.fullmatch(name):
                continue
            digest = asset.get("digest")
            digest = digest.removeprefix("sha256:") if isinstance(digest, str) else ""
            size = asset.get("size")
            assets[name] = {"sha256": digest if SHA256.fullmatch(digest) else "",
                            "size": size if type(size) is int and size >= 0 else None}
        body = item.get("body")
        releases[tag] = {"assets": assets, "notes": body if isinstance(body, str) else ""}
    return releases


def parse_checksums(text: str) -> dict[str, str]:
    """`sha256sum` output ("<hex>  <name>" or "<hex> *<name>") as {name: hex}; a name listed twice
    with two values is kept as "" (it confirms nothing)."""
    sums: dict[str, str] = {}
    for line in text.splitlines():
        found = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](?:\./)?(\S{1,200})", line.strip())
        if found:
            digest, name = found.group(1).lower(), found.group(2)
            sums[name] = digest if sums.get(name, digest) == digest else ""
    return sums


def node_images(notes: str) -> dict[str, set[str]]:
    """kindest/node tags and their digests as a kind release's notes list them."""
    found: dict[str, set[str]] = {}
    for tag, digest in NODE_IMAGE.findall(notes):
        found.setdefault(tag, set()).add(digest)
    return found


def newest(releases: dict[str, dict], prefix: str, major: tuple[int, ...] = ()) -> str:
    """The newest whole version among the tags starting with `prefix` (of that major version, given one)."""
    versions = [tag.removeprefix(prefix) for tag in releases if tag.startswith(prefix)]
    versions = [v for v in versions if VERSION.fullmatch(v) and version_tuple(v)[:len(major)] == major]
    return max(versions, key=version_tuple, default="")


def checksum_files(release: dict, asset: str) -> list[str]:
    """The checksum files a release lists for an asset, as upstream names them."""
    names = [pattern.format(asset=asset) for pattern in CHECKSUM_FILES]
    return [name for name in names if name in release["assets"]]


def upstream_sha256(release: dict | None, asset: str, sums: dict[str, dict[str, str]]) -> tuple[str, str]:
    """(sha256, "") when upstream's sources agree on the asset's checksum; ("", why) otherwise.
    `sums` holds each checksum file of that release already parsed ({file: {asset: hex}})."""
    if release is None:
        return "", "no such release"
    said = {"the asset's digest": (release["assets"].get(asset) or {}).get("sha256", "")}
    said.update({name: table.get(asset, "") for name, table in sums.items()})
    values = {value for value in said.values() if value}
    if len(values) > 1:
        return "", "upstream's checksums disagree: " + ", ".join(f"{k} {v[:12]}…" for k, v in said.items() if v)
    return (values.pop(), "") if values else ("", f"no checksum published for {asset}")


# -- rows -----------------------------------------------------------------------------------------
def release_row(pin: ReleasePin, releases: dict[str, dict], sums: dict[str, dict[str, dict[str, str]]]) -> dict:
    """One row for a release pin; `sums` is {tag: {checksum file: {asset: hex}}}. A row's
    `proposal` is the lab.lock entry --write may write (verified by upstream's checksum), or None."""
    row = {"pin": pin.key, "current": f"{pin.version} {short(pin.sha256)}", "upstream": "", "status": "",
           "note": "", "proposal": None}
    tag = pin.tag_prefix + pin.version
    confirmed, why = upstream_sha256(releases.get(tag), pin.asset, sums.get(tag, {}))
    latest = pin.newest(releases)
    row["upstream"] = latest
    if why.startswith("upstream's checksums disagree"):
        return {**row, "status": "mismatch", "note": f"{tag}: {why}"}
    if pin.sha256 and confirmed and confirmed != pin.sha256:
        return {**row, "status": "mismatch",
                "note": f"MISMATCH: {tag} {pin.asset} is {confirmed} upstream, pinned {pin.sha256}"}
    if version_tuple(latest) > version_tuple(pin.version):
        (asset, url), new_tag = pin.at(latest), pin.tag_prefix + latest
        new, new_why = upstream_sha256(releases.get(new_tag), asset, sums.get(new_tag, {}))
        row.update(status="behind", upstream=f"{latest} {short(new)}")
        if new_why.startswith("upstream's checksums disagree"):
            return {**row, "status": "mismatch", "note": f"{new_tag}: {new_why}"}
        if not new:
            return {**row, "note": f"{latest}: {new_why}; left as it is"}
        size = releases[new_tag]["assets"].get(asset, {}).get("size")
        return {**row, "note": f"{latest} confirmed by upstream", "proposal": lock_entry(url, latest, new, size)}
    row["upstream"] = f"{latest} {short(confirmed)}"
    if not pin.sha256:
        if not confirmed:
            return {**row, "status": "unconfirmed", "note": f"nothing pinned; {why}"}
        size = releases[tag]["assets"].get(pin.asset, {}).get("size")
        return {**row, "status": "behind", "note": "nothing pinned; upstream confirms one",
                "proposal": lock_entry(pin.url, pin.version, confirmed, size)}
    if not confirmed:
        return {**row, "status": "unconfirmed", "note": why}
    return {**row, "status": "current"}


def lock_entry(url: str, version: str, sha256: str, size: int | None) -> dict:
    entry = {"origin": "release", "source": url, "version": version, "sha256": sha256}
    return {**entry, "size": size} if size is not None else entry


def kind_rows(table: dict, releases: dict[str, dict]) -> list[dict]:
    """One row per node image of `kind-node-images`, and one saying whether a newer kind is out."""
    rows = []
    for kind_version, images in sorted(table.items(), key=lambda item: version_tuple(item[0])):
        listed = node_images((releases.get(kind_version) or {}).get("notes", ""))
        for minor, ref in sorted(images.items(), key=lambda item: version_tuple(item[0])):
            tag, digest = NODE_IMAGE.fullmatch(ref).groups()  # type: ignore[union-attr]
            row = {"pin": f"kindest/node {minor} (kind {kind_version})", "current": f"{tag} {short(digest)}",
                   "upstream": "", "status": "current", "note": "", "proposal": None}
            if kind_version not in releases:
                row.update(status="unconfirmed", note=f"no kind {kind_version} release found")
            elif tag not in listed:
                row.update(status="unconfirmed", note=f"kind {kind_version}'s notes do not list {tag}")
            elif digest not in listed[tag]:
                row.update(status="mismatch", upstream=f"{tag} {short(min(listed[tag]))}",
                           note=f"MISMATCH: kind {kind_version}'s notes give {tag} another digest")
            else:
                row["upstream"] = row["current"]
            rows.append(row)
    ours, latest = max(table, key=version_tuple), newest(releases, "")
    row = {"pin": "kind release (kind-node-images)", "current": ours, "upstream": latest or "?", "status": "current",
           "note": "", "proposal": None}
    if not latest:
        row.update(status="unconfirmed", note="no kind release found")
    elif version_tuple(latest) > version_tuple(ours):
        row.update(status="behind", note=f"kind {latest}'s node images: add them to kind-node-images "
                                         "(lab/defaults/artifacts.yaml); --write leaves them")
    rows.append(row)
    return rows


def unreachable(pin: str, current: str, why: str) -> dict:
    return {"pin": pin, "current": current, "upstream": "", "status": "unreachable", "note": why, "proposal": None}


def short(sha256: str) -> str:
    return f"{sha256[:12]}…" if sha256 else "-"


def exit_code(rows: list[dict]) -> int:
    """0 when every pin is current; 1 otherwise (behind, mismatched, unconfirmed or unreachable: a
    nightly job must not read a mirror that was down as "nothing to do")."""
    return 0 if all(row["status"] == "current" for row in rows) else 1
