"""The stand-in upstream of lab.pins' tests: every release pin of the catalog published on a
GitHub-like file server (tests/e2e/standins.py), kind's releases with notes, a lab.yaml whose
`mirrors:` lead there and a lab.lock beside it."""
import hashlib
import os
import subprocess
import sys

import yaml

from lab import artifacts, pins, upstream
from lab.lock import LockFile
from lab.spec import load as load_spec
from tests.e2e import standins

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STALE = "shim-wasmtime@x86_64"
NEWER = "v0.6.2"


class Upstream:
    """The stand-in upstream, the lab.yaml whose mirrors lead to it, and the lab.lock beside it."""

    def __init__(self, tmp_path):
        self.root, self.folder = tmp_path / "www", tmp_path / "lab"
        self.folder.mkdir()
        self.server = standins.FileServer(self.root).start()
        self.config = self.folder / "lab.yaml"
        self.config.write_text(yaml.safe_dump({"mirrors": {"https://github.com": f"{self.server.url}/github",
                                                           "https://api.github.com": f"{self.server.url}/api"}}))
        self.lock_path = self.folder / "lab.lock"
        self.pins = pins.release_pins(artifacts.catalog(), {})

    def publish(self, prefix: str, version: str, sums="SHA256SUMS", digests=True, tamper: str = "") -> dict:
        """Every catalog asset of the releases named `prefix + version`, as tarballs holding their member;
        `tamper`: an asset whose line in SHA256SUMS names other bytes. {asset: sha256}."""
        assets = {}
        for pin in self.pins:
            if pin.tag_prefix == prefix:
                name, _ = pin.at(version)
                member = next(o for o in artifacts.catalog()["artifacts"][pin.key.split("@")[0]]
                              if o["origin"] == "release")["member"]
                member = member.format(arch=pin.key.split("@")[1]).replace(pin.version, version)
                assets[name] = standins.release_tarball(member, f"{pin.key} {version}".encode())
        owner, repo = next((p.owner, p.repo) for p in self.pins if p.tag_prefix == prefix)
        standins.github_release(self.root, owner, repo, prefix + version, assets, sums=sums, digests=digests)
        if tamper:
            listed = self.root / "github" / owner / repo / "releases" / "download" / (prefix + version) / sums
            listed.write_text(listed.read_text().replace(hashlib.sha256(assets[tamper]).hexdigest(), "e" * 64))
        return {name: hashlib.sha256(data).hexdigest() for name, data in assets.items()}

    def publish_current(self, **kinds) -> None:
        """The catalog's releases (runwasi with SHA256SUMS, wasmtime with none, as upstream) and kind's
        releases with notes listing the catalog's node images; lab.lock pins them all."""
        lock = LockFile(self.lock_path)
        published = {}
        for prefix in dict.fromkeys(p.tag_prefix for p in self.pins):
            version = next(p.version for p in self.pins if p.tag_prefix == prefix)
            published |= self.publish(prefix, version, sums="SHA256SUMS" if prefix else None)
        for pin in self.pins:
            lock.record(pin.key, {"origin": "release", "source": pin.url, "version": pin.version,
                                  "sha256": published[pin.asset]})
        lock.save()
        table = artifacts.catalog()["kind-node-images"]
        for kind_version in sorted(table, key=artifacts.version_tuple):
            notes = "Images pre-built for this release:\n" + "".join(
                f"- {minor}: `{ref}`\n" for minor, ref in kinds.get(kind_version, table[kind_version]).items())
            standins.github_release(self.root, "kubernetes-sigs", "kind", kind_version, {}, notes=notes, sums=None)

    def spec(self):
        return load_spec(str(self.config), {})

    def rows(self) -> dict[str, dict]:
        return {row["pin"]: row for row in upstream.check(self.spec())}

    def lock(self) -> dict:
        return yaml.safe_load(self.lock_path.read_text())["artifacts"]

    def invoke(self, *args):
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
        env.update(WASM_LAB_STATE_DIR=str(self.folder / "state"), WASM_LAB_DOWNLOAD_DIR=str(self.folder / "dl"))
        return subprocess.run([sys.executable, "-m", "invoke", "--search-root", REPO, "lab.pins", *args,
                               "--config", str(self.config)], cwd=self.folder, env=env, capture_output=True,
                              text=True, timeout=120)
