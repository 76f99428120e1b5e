"""lab.pins' fetching side: upstream's own release metadata, through the lab's mirrors.

Where each pin is confirmed (docs/artifacts.md, "Pins that keep up"):
  GitHub's releases listing  https://api.github.com/repos/OWNER/REPO/releases?per_page=100 (the
                             newest releases, each asset with the sha256 digest GitHub computed
                             when it was uploaded, and the release notes)
  a release's checksum file  https://github.com/OWNER/REPO/releases/download/TAG/SHA256SUMS (or
                             ASSET.sha256), fetched only when the listing names it (runwasi's)
  kind's release notes       the `body` of kind's releases in that listing
Each answer is capped, decoded strictly and parsed by lab.pins, which keeps only what matches
whole; a source that cannot be fetched or read makes its rows `unreachable`. --write writes
lab.lock only with what upstream's checksums confirmed, validated again here."""
from __future__ import annotations

import difflib
import urllib.parse
from pathlib import Path

from lab import pins
from lab.artifacts import catalog
from lab.artifacts.host import version_tuple
from lab.fetch import Unavailable, http_get
from lab.lock import LockFile

API = "https://api.github.com"
LISTING_BYTES = 8 * 1024 * 1024     # 100 releases with their notes and asset lists
CHECKSUMS_BYTES = 256 * 1024        # a SHA256SUMS of a few hundred lines


class Upstream:
    """What upstream said, fetched once per URL through the mirrors; failures remembered as text."""

    def __init__(self, mirrors):
        self.mirrors = mirrors
        self.answers: dict[str, object] = {}

    def _get(self, url: str, cap: int, parse, what: str):
        if url not in self.answers:
            mirrored = self.mirrors.url(url)
            try:
                self.answers[url] = parse(http_get(mirrored, max_bytes=cap).decode("utf-8"))
            except Unavailable as why:
                self.answers[url] = Unavailable(str(why))
            except (UnicodeDecodeError, ValueError, RecursionError) as error:
                self.answers[url] = Unavailable(f"{mirrored} answered what is not {what} ({error.__class__.__name__})")
        answer = self.answers[url]
        if isinstance(answer, Unavailable):
            raise answer
        return answer

    def releases(self, owner: str, repo: str) -> dict[str, dict]:
        return self._get(f"{API}/repos/{owner}/{repo}/releases?per_page=100", LISTING_BYTES, pins.parse_releases,
                         "a releases listing")

    def checksums(self, owner: str, repo: str, tag: str, name: str) -> dict[str, str]:
        url = f"https://github.com/{owner}/{repo}/releases/download/{urllib.parse.quote(tag, safe='')}/{name}"
        return self._get(url, CHECKSUMS_BYTES, pins.parse_checksums, "a checksum file")


def check(spec) -> list[dict]:
    """One row per pin (lab.pins): the release origins per architecture, then kind's node images."""
    table = catalog()
    lock = LockFile.load(Path(spec.lock))
    upstream = Upstream(spec.mirrors)
    rows = []
    for pin in pins.release_pins(table, lock.entries):
        try:
            releases = upstream.releases(pin.owner, pin.repo)
            sums = {}
            for version in {pin.version, pin.newest(releases)}:
                tag = pin.tag_prefix + version
                asset = pin.at(version)[0]
                sums[tag] = {name: upstream.checksums(pin.owner, pin.repo, tag, name)
                             for name in pins.checksum_files(releases.get(tag) or {"assets": {}}, asset)}
        except Unavailable as why:
            rows.append(pins.unreachable(pin.key, f"{pin.version} {pins.short(pin.sha256)}", str(why)))
            continue
        rows.append({**pins.release_row(pin, releases, sums), "floor": pin.floor})
    try:
        rows += pins.kind_rows(table["kind-node-images"], upstream.releases(*pins.KIND_REPO))
    except Unavailable as why:
        newest_kind = max(table["kind-node-images"], key=version_tuple)
        rows.append(pins.unreachable("kindest/node (kind-node-images)", newest_kind, str(why)))
    return rows


def verified(entry: dict, floor: str) -> bool:
    """A proposed lab.lock entry as lab.pins made it: a canonical release URL, a whole version at or
    above the origin's floor, a whole sha256 and a size that is a number."""
    return (set(entry) <= {"origin", "source", "version", "sha256", "size"} and entry.get("origin") == "release"
            and isinstance(entry.get("source"), str) and bool(pins.RELEASE_URL.fullmatch(entry["source"]))
            and isinstance(entry.get("version"), str) and bool(pins.VERSION.fullmatch(entry["version"]))
            and version_tuple(entry["version"]) >= version_tuple(floor or "v0.0.0")
            and isinstance(entry.get("sha256"), str) and bool(pins.SHA256.fullmatch(entry["sha256"]))
            and (type(entry.get("size", 0)) is int and entry.get("size", 0) >= 0))


def write(spec, rows: list[dict]) -> tuple[list[str], list[str], str]:
    """Write the verified proposals into lab.lock (atomically); (written keys, what was left and why,
    the unified diff of the file)."""
    path = Path(spec.lock)
    lock = LockFile.load(path)
    before = path.read_text() if path.exists() else ""
    written, left = [], []
    for row in rows:
        proposal = row.get("proposal")
        if proposal and verified(proposal, row.get("floor", "")):
            lock.record(row["pin"], proposal)
            written.append(row["pin"])
        elif row["status"] == "behind":
            left.append(f"{row['pin']}: {row['note']}")
    lock.save()
    after = path.read_text() if path.exists() else ""
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"{path} (before)", str(path)))
    return written, left, diff
