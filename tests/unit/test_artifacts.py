"""The artifact store: origins in order, pins from the catalog or lab.lock, mirrors, fallback.

Downloads go through the real code path to a real HTTP server on 127.0.0.1 laid out like GitHub
releases. The kit origin is a fake here (kit.build/kit.artifact replaced, and it says so); the
real kit path is covered by tests/e2e."""
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

from lab import artifacts, kit
from lab.artifacts import kit_sets
from lab.artifacts import plan as artifact_plan
from lab.artifacts.host import ARCHES, version_tuple
from lab.errors import InputError, LabError
from lab.lock import LockFile
from lab.mirrors import ImageRef, Mirrors
from lab.mirrors import parse as parse_mirrors
from lab.spec import load as load_spec

RELEASE_PATH = "containerd/runwasi/releases/download/containerd-shim-wasmtime%2Fv0.6.1"
UPSTREAM = "https://github.com/" + RELEASE_PATH + "/containerd-shim-wasmtime-{arch}-linux-musl.tar.gz"


def runwasi_tarball(content: bytes) -> bytes:
    """A tarball with runwasi's layout: ./containerd-shim-wasmtime-v1 plus its .sig and .pem."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("./containerd-shim-wasmtime-v1", content), ("./containerd-shim-wasmtime-v1.sig", b"s"),
                           ("./containerd-shim-wasmtime-v1.pem", b"p")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def release_server(tmp_path):
    """A plain HTTP file server on 127.0.0.1 serving tmp_path/www like github.com."""
    root = tmp_path / "www"
    (root / RELEASE_PATH.replace("%2F", "/")).mkdir(parents=True)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, root / RELEASE_PATH.replace("%2F", "/")
    server.shutdown()
    server.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def shim_catalog(monkeypatch):
    """A catalog with one release artifact followed by a kit origin (fake kit, see below)."""
    def with_pin(sha256: str):
        table = {
            "artifacts": {"shim-wasmtime": [
                {"origin": "release", "version": "v0.6.1", "url": UPSTREAM, "member": "containerd-shim-wasmtime-v1",
                 "sha256": {"x86_64": sha256, "aarch64": ""}},
                {"origin": "kit", "artifact": "shims", "file": "bin/containerd-shim-wasmtime-v1"},
            ], "node-image": {}},
            "kind-node-images": {}, "oldest-kind": "v0.32.0", "registry-hosts": {}, "bundles": {},
        }
        monkeypatch.setattr(artifacts, "catalog", lambda: table)
    return with_pin


@pytest.fixture
def fake_kit(monkeypatch, tmp_path):
    """FAKE kit: records what would be built and answers with a file of its own."""
    built = []
    path = tmp_path / "kit-shims"
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "containerd-shim-wasmtime-v1").write_bytes(b"kit shim")
    sha = hashlib.sha256(b"kit shim").hexdigest()
    monkeypatch.setattr(kit, "build", lambda names: built.extend(names))
    monkeypatch.setattr(kit, "artifact", lambda name: {"name": name, "path": str(path),
                                                       "files": {"bin/containerd-shim-wasmtime-v1": sha}})
    return built


def resolver(mode, server=None, lock_path=None, mirrors=None):
    if mirrors is None and server:
        mirrors = parse_mirrors({"https://github.com": f"http://127.0.0.1:{server.server_address[1]}"})
    return artifacts.Resolver(mode, mirrors or Mirrors(), LockFile.load(lock_path or Path("/nonexistent/lab.lock")),
                              "x86_64")


def test_release_is_fetched_through_the_mirror_verified_and_locked(release_server, shim_catalog, home, tmp_path):
    server, folder = release_server
    tarball = runwasi_tarball(b"upstream shim")
    (folder / "containerd-shim-wasmtime-x86_64-linux-musl.tar.gz").write_bytes(tarball)
    shim_catalog(hashlib.sha256(tarball).hexdigest())
    lock_path = tmp_path / "lab.lock"
    r = resolver("false", server, lock_path)
    local = r.get("shim-wasmtime")
    assert local.path.read_bytes() == b"upstream shim" and local.needs == ()
    assert r.lock.save()
    entry = yaml.safe_load(lock_path.read_text())["artifacts"]["shim-wasmtime@x86_64"]
    assert entry == {"origin": "release", "source": UPSTREAM.format(arch="x86_64"), "version": "v0.6.1",
                     "sha256": hashlib.sha256(tarball).hexdigest(), "size": len(tarball),
                     "member": "containerd-shim-wasmtime-v1", "member_sha256": hashlib.sha256(b"upstream shim").hexdigest()}

    # a later run needs no network: the verified download is cached
    server.shutdown()
    again = resolver("false", None, lock_path, Mirrors())
    assert again.get("shim-wasmtime").path.read_bytes() == b"upstream shim"


def test_tampered_download_is_refused_online_in_one_line(release_server, shim_catalog, home, fake_kit):
    server, folder = release_server
    (folder / "containerd-shim-wasmtime-x86_64-linux-musl.tar.gz").write_bytes(runwasi_tarball(b"evil"))
    shim_catalog(hashlib.sha256(runwasi_tarball(b"good")).hexdigest())
    with pytest.raises(LabError) as error:
        resolver("false", server).get("shim-wasmtime")
    assert "sha256 mismatch" in str(error.value) and "\n" not in str(error.value)
    assert fake_kit == []
    assert not list((home / ".cache" / "wasm-lab" / "downloads").rglob("*.tar.gz"))


def test_auto_falls_back_to_the_kit_saying_why(release_server, shim_catalog, home, fake_kit, capsys):
    server, folder = release_server
    shim_catalog(hashlib.sha256(b"whatever").hexdigest())  # the server has no such file: HTTP 404
    local = resolver("auto", server).get("shim-wasmtime")
    assert local.path.read_bytes() == b"kit shim" and fake_kit == ["shims"]
    assert "answered HTTP 404; using kit recipe shims instead" in capsys.readouterr().err


def test_auto_with_the_mirror_down_falls_back_without_waiting(shim_catalog, home, fake_kit, capsys):
    shim_catalog(hashlib.sha256(b"whatever").hexdigest())
    mirrors = parse_mirrors({"https://github.com": "http://127.0.0.1:9"})  # discard port: nothing listens
    resolver("auto", mirrors=mirrors).get("shim-wasmtime")
    assert fake_kit == ["shims"]
    assert "127.0.0.1:9 unreachable (Connection refused); using kit recipe shims" in capsys.readouterr().err


def test_offline_never_tries_upstream(shim_catalog, home, fake_kit):
    shim_catalog("")
    assert resolver("true").origins("shim-wasmtime") == [artifacts.catalog()["artifacts"]["shim-wasmtime"][1]]
    resolver("true").get("shim-wasmtime")
    assert fake_kit == ["shims"]


def test_missing_pin_is_refused_online(shim_catalog, home):
    shim_catalog("")
    with pytest.raises(LabError, match="no sha256 is pinned for https://github.com/.*without --online"):
        resolver("false").get("shim-wasmtime")


def test_lab_up_says_why_an_architecture_has_no_pin(shim_catalog, home):
    shim_catalog("")
    artifacts.catalog()["artifacts"]["shim-wasmtime"][0]["unpinned"] = {"x86_64": "no record of it was found"}
    with pytest.raises(LabError, match=r"no sha256 is pinned for https://github.com/\S+ \(no record of it was found\)"):
        resolver("false").get("shim-wasmtime")


def test_the_lock_pin_wins_and_a_changed_source_is_drift(release_server, shim_catalog, home, tmp_path, capsys):
    server, folder = release_server
    tarball = runwasi_tarball(b"mirror rebuilt it")
    (folder / "containerd-shim-wasmtime-x86_64-linux-musl.tar.gz").write_bytes(tarball)
    shim_catalog("0" * 64)
    lock_path = tmp_path / "lab.lock"
    lock = LockFile(lock_path)
    lock.record("shim-wasmtime@x86_64", {"origin": "release", "source": UPSTREAM.format(arch="x86_64"),
                                         "sha256": hashlib.sha256(tarball).hexdigest()})
    lock.save()
    assert resolver("false", server, lock_path).get("shim-wasmtime").path.read_bytes() == b"mirror rebuilt it"

    lock.entries["shim-wasmtime@x86_64"]["source"] = "https://github.com/old/release.tar.gz"
    lock.changed = True
    lock.save()
    with pytest.raises(LabError, match="locks shim-wasmtime@x86_64 to https://github.com/old/release.tar.gz"):
        resolver("false", server, lock_path).get("shim-wasmtime")


def test_a_corrupt_lock_is_bad_input(tmp_path):
    (tmp_path / "lab.lock").write_text("version: 7\n")
    with pytest.raises(InputError, match="is not a wasm-lab lock file"):
        LockFile.load(tmp_path / "lab.lock")


def test_kind_node_image_follows_the_installed_kind_release(monkeypatch):
    def node_ref(kind_version, kubernetes="v1.34.2"):
        r = artifacts.Resolver("false", Mirrors(), LockFile(Path("x")), "x86_64", "kind", kubernetes, kind_version)
        return r.kind_node_ref()

    assert node_ref("v0.33.0").startswith("kindest/node:v1.34.11@sha256:44e222ee")
    assert node_ref("v0.32.4").startswith("kindest/node:v1.34.8@sha256:02722c2d")
    assert node_ref("v0.34.0").startswith("kindest/node:v1.34.11@")  # newer kind: the newest known images
    with pytest.raises(LabError, match="kind v0.31.0 is too old.*install kind v0.33.0"):
        node_ref("v0.31.0")
    with pytest.raises(artifacts.Unavailable, match="no node image for Kubernetes v1.30"):
        node_ref("v0.33.0", "v1.30.1")


def test_every_upstream_pin_is_a_real_sha256():
    """No empty-file sha256 (e3b0c442…) and no malformed digest slipped into the catalog."""
    empty = hashlib.sha256(b"").hexdigest()
    table = artifacts.catalog()
    pins = []
    for origins in table["artifacts"].values():
        for origin in (origins if isinstance(origins, list) else sum(origins.values(), [])):
            pins += [v for v in (origin.get("sha256") or {}).values() if v]
            if origin.get("ref"):
                pins.append(ImageRef.parse(origin["ref"]).digest.removeprefix("sha256:"))
    pins += [ImageRef.parse(ref).digest.removeprefix("sha256:") for images in table["kind-node-images"].values()
             for ref in images.values()]
    assert pins and all(len(p) == 64 and int(p, 16) >= 0 and p != empty for p in pins)


def test_image_refs_and_registry_mirrors():
    assert str(ImageRef.parse("rust:1-bookworm@sha256:ab")) == "docker.io/library/rust:1-bookworm@sha256:ab"
    assert ImageRef.parse("127.0.0.1:5000/kindest/node:v1").registry == "127.0.0.1:5000"
    mirrors = parse_mirrors(["docker.io=harbor.corp/hub", "https://github.com=http://127.0.0.1:8080/gh/"])
    assert str(mirrors.image(ImageRef.parse("kindest/node@sha256:ab"))) == "harbor.corp/hub/kindest/node@sha256:ab"
    assert mirrors.url("https://github.com/a/b.tar.gz") == "http://127.0.0.1:8080/gh/a/b.tar.gz"
    assert mirrors.url("https://example.org/a") == "https://example.org/a"


@pytest.mark.parametrize("value, field", [
    (["github.com"], "mirror"),
    ({"https://github.com": "ftp://x"}, "mirrors"),
    ({"docker.io": "http://harbor"}, "mirrors"),
    ("docker.io", "mirrors"),
])
def test_bad_mirrors_are_one_line_naming_the_field(value, field):
    with pytest.raises(InputError, match=f"^{field}: "):
        parse_mirrors(value)


def test_the_lock_lives_beside_the_config(tmp_path, monkeypatch):
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "lab.yaml").write_text("mirrors: {docker.io: 127.0.0.1:5000}\n")
    monkeypatch.chdir(tmp_path)
    spec = load_spec(str(tmp_path / "ci" / "lab.yaml"))
    assert spec.lock == str(tmp_path / "ci" / "lab.lock")
    assert spec.mirrors.registries == (("docker.io", "127.0.0.1:5000"),)
    assert load_spec().lock == str(tmp_path / "lab.lock")


def test_plan_lists_a_pin_for_every_artifact_of_the_connected_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = load_spec(None, {"offline": "false", "runtimes": ["wasmedge", "wasmtime", "crun-wasmedge"]})
    rows = artifact_plan.plan(spec, spec.runtimes, spec.variants, "kind", ("x86_64", "aarch64"))
    names = {r["artifact"] for r in rows}
    assert {"node-image", "shim-wasmedge", "shim-wasmtime", "wasmedge-libs", "base-rust", "base-wasmedge",
            "base-wasmtime", "wasmtime-release", "base-debian"} <= names
    missing = sorted(f"{r['artifact']}@{r['arch']}" for r in rows if not r["pin"])
    # no public record of these could be found (docs/artifacts.md): runwasi's v0.6.1 SHA256SUMS was
    # quoted for x86_64 only, and wasmtime 48.0.11's tarballs nowhere; the plan says so
    assert missing == ["shim-wasmedge@aarch64", "wasmtime-release@aarch64", "wasmtime-release@x86_64"]
    assert not (tmp_path / "lab.lock").exists()


def lock_with(tmp_path, artifact: str, version: str) -> None:
    """A lab.lock pinning `artifact` (its catalog URL, both architectures) to another `version`."""
    url = artifacts.catalog()["artifacts"][artifact][0]["url"]
    (tmp_path / "lab.lock").write_text(yaml.safe_dump({"version": 1, "artifacts": {
        f"{artifact}@{arch}": {"origin": "release", "source": url.format(arch=arch), "version": version,
                               "sha256": "a" * 64, "size": 1} for arch in ARCHES}}))


def test_a_lock_pinning_runwasi_older_than_v0_6_1_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = load_spec(None, {"runtimes": ["wasmtime"], "offline": "false"})
    lock_with(tmp_path, "shim-wasmtime", "v0.6.0")
    refused = (rf"^lock: {tmp_path / 'lab.lock'} pins shim-wasmtime@x86_64 to runwasi v0.6.0; runwasi older than "
               r"v0.6.1 is refused \(CVE-2026-47218, .*\); delete that entry$")
    with pytest.raises(InputError, match=refused):
        artifacts.refuse_old_releases(spec, "x86_64")
    with pytest.raises(InputError, match=refused):
        artifact_plan.plan(spec, spec.runtimes, spec.variants, "kind", ("x86_64",))
    lock_with(tmp_path, "shim-wasmtime", "v0.6.1")
    artifacts.refuse_old_releases(spec, "x86_64")
    artifacts.refuse_old_releases(load_spec(None, {"offline": "true"}), "x86_64")  # offline takes no release


def test_lab_up_refuses_an_old_runwasi_before_it_reaches_the_provider(tmp_path, monkeypatch):
    from lab import lifecycle

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(lifecycle.providers, "get", lambda name: pytest.fail("lab.up reached the provider"))
    lock_with(tmp_path, "shim-wasmtime", "v0.5.0")
    with pytest.raises(InputError, match="^lock: .* to runwasi v0.5.0; runwasi older than v0.6.1 is refused"):
        lifecycle.up(load_spec(None, {"runtimes": ["wasmtime"]}))
    assert not (tmp_path / "state").exists()


def test_a_mirror_serving_an_older_runwasi_in_its_place_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tag = "https://github.com/containerd/runwasi/releases/download/containerd-shim-wasmedge%2Fv0.6.1"
    older = load_spec(None, {"mirrors": [f"{tag}=https://mirror.corp/runwasi/containerd-shim-wasmedge/v0.5.0"]})
    with pytest.raises(InputError, match=r"^mirrors: shim-wasmedge@aarch64 would come from https://mirror.corp/"
                                         r"runwasi/containerd-shim-wasmedge/v0.5.0/\S+, runwasi v0.5.0; runwasi "
                                         r"older than v0.6.1 is refused"):
        artifacts.refuse_old_releases(older, "aarch64")
    # a mirror of the same releases whose own path has a version in it is no older release
    same = load_spec(None, {"mirrors": ["https://github.com=https://artifactory.corp/v0.1.0/github"]})
    artifacts.refuse_old_releases(same, "aarch64")


def test_every_release_the_catalog_pins_keeps_to_its_floor():
    table = artifacts.catalog()["artifacts"]
    floors = {name: entry[0]["floor"]["version"] for name, entry in table.items()
              if isinstance(entry, list) and entry[0].get("floor")}
    assert floors == {"shim-wasmedge": "v0.6.1", "shim-wasmtime": "v0.6.1", "wasmtime-release": "v48.0.11"}
    for name, floor in floors.items():
        assert version_tuple(table[name][0]["version"]) >= version_tuple(floor), name


def test_minikube_offline_takes_the_kits_base_image_and_auto_probes_its_default():
    offline = artifacts.Resolver("true", Mirrors(), LockFile(Path("x")), "x86_64", "minikube")
    assert [o["origin"] for o in offline.origins("node-image")] == ["kit"]
    auto = artifacts.Resolver("auto", Mirrors(), LockFile(Path("x")), "x86_64", "minikube")
    assert auto.catalog["artifacts"]["node-image"]["minikube"][0]["probe"] == "gcr.io:443"
    auto.catalog["artifacts"]["node-image"]["minikube"][0]["probe"] = "127.0.0.1:9"  # where nothing listens
    rows = []
    artifact_plan.add_rows(auto, "node-image", rows)
    assert rows[0]["origin"] == "kit recipe minikube-node" and "127.0.0.1:9 unreachable" in rows[0]["note"]


def test_bench_loadgen_is_the_kits_debian_recipe_in_every_mode(tmp_path, monkeypatch):
    """The benchmark's pod image comes from images/kit/loadgen whether the lab is connected or not,
    and names the same Debian versions as versions.yaml. FAKE kit: it only answers with a ref."""
    from lab.kit.recipes import load_recipes, load_versions

    built = []
    monkeypatch.setattr(kit, "build", lambda names: built.extend(names))
    monkeypatch.setattr(kit, "artifact", lambda name: {"name": name, "image": {"ref": f"wasm-lab-kit/{name}:t",
                                                                                 "id": "sha256:1"}})
    monkeypatch.chdir(tmp_path)
    for mode in ("auto", "false", "true"):
        assert artifacts.image(load_spec(None, {"offline": mode}), "bench-loadgen") == "wasm-lab-kit/loadgen:t"
    assert built == ["loadgen"] * 3 and not (tmp_path / "lab.lock").exists()

    [origin] = artifacts.catalog()["artifacts"]["bench-loadgen"]
    recipe, versions = load_recipes()["loadgen"], load_versions()
    assert origin["origin"] == "debian" and origin["artifact"] == recipe.name
    for key in ("wrk-trixie", "nginx-trixie"):
        assert key in recipe.versions and versions[key] in origin["packages"]

    monkeypatch.setattr(kit, "artifact", lambda name: {"name": name, "path": "/x", "files": {}})
    with pytest.raises(LabError, match="^wasmedge-libs: not an image artifact"):
        artifacts.image(load_spec(None, {"offline": "true"}), "wasmedge-libs")


def test_a_bundle_by_default_holds_what_an_offline_lab_with_every_runtime_and_the_bench_use():
    assert kit_sets.kit_artifacts() == ["node-containerd2", "shims", "crun-wasmedge", "rust-builder", "wasmedge-cli",
                                         "wasmtime-cli", "registry", "loadgen"]
    assert kit_sets.kit_artifacts("kind", "1.7")[0] == "node"
    assert kit_sets.kit_artifacts("minikube")[:2] == ["minikube-node", "minikube"]


def test_auto_plans_the_kit_when_a_local_builds_input_cannot_be_had(tmp_path, monkeypatch):
    """As resolve() does: base-wasmtime's wasmtime-release has no pin, so auto takes the kit's image."""
    monkeypatch.chdir(tmp_path)
    rows = artifact_plan.plan(load_spec(None, {"runtimes": ["wasmtime"]}), ("wasmtime",), ("embed-wasmtime",), None,
                          ("x86_64",))
    [row] = [r for r in rows if r["artifact"] == "base-wasmtime"]
    assert row["origin"] == "kit recipe wasmtime-cli"
    assert "wasmtime-release" in row["note"].partition(" cannot be had")[0].split(", ")
    assert not any(r["note"].endswith("FAILS") for r in rows)
    online = artifact_plan.plan(load_spec(None, {"runtimes": ["wasmtime"], "offline": "false"}), ("wasmtime",),
                            ("embed-wasmtime",), None, ("x86_64",))
    assert [r["artifact"] for r in online if r["note"].endswith("FAILS")] == ["wasmtime-release"]


RUST_DIGEST = "sha256:" + "ab" * 32


class FakeDocker:
    """FAKE docker client: one image per reference, made by a pull, with the architecture given."""

    def __init__(self, architecture: str, present: bool):
        import docker

        self.pulled: list[str] = []
        outer = self

        class Images:
            def get(self, ref):
                if not present and not outer.pulled:
                    raise docker.errors.ImageNotFound(ref)
                return type("Image", (), {"attrs": {"Architecture": architecture}})()

        class Api:
            def pull(self, repository, tag, stream, decode):
                outer.pulled.append(f"{repository}@{tag}")
                return iter(())

        self.images, self.api = Images(), Api()


@pytest.fixture
def rust_catalog(monkeypatch):
    """A catalog whose base-rust is a registry image by digest, then the kit's (fake kit)."""
    table = {"artifacts": {"base-rust": [{"origin": "registry", "ref": f"rust:1-bookworm@{RUST_DIGEST}"},
                                         {"origin": "kit", "artifact": "rust-builder"}], "node-image": {}},
             "kind-node-images": {}, "oldest-kind": "v0.32.0", "registry-hosts": {}, "bundles": {}}
    monkeypatch.setattr(artifacts, "catalog", lambda: table)


def on_docker(monkeypatch, architecture, present=False):
    import docker

    client = FakeDocker(architecture, present)
    monkeypatch.setattr(docker, "from_env", lambda **kw: client)
    return client


def arch_resolver(mode, arch, tmp_path):
    return artifacts.Resolver(mode, Mirrors(), LockFile.load(tmp_path / "lab.lock"), arch)


@pytest.mark.parametrize("arch, docker_arch", [("x86_64", "amd64"), ("aarch64", "arm64")])
def test_a_pulled_image_of_this_hosts_architecture_is_used(rust_catalog, monkeypatch, tmp_path, arch, docker_arch):
    client = on_docker(monkeypatch, docker_arch)
    image = arch_resolver("false", arch, tmp_path).get("base-rust")
    assert client.pulled == [f"docker.io/library/rust@{RUST_DIGEST}"]
    assert image.digest == RUST_DIGEST


def test_a_digest_of_another_architectures_image_is_refused_before_it_is_locked(rust_catalog, monkeypatch, tmp_path):
    on_docker(monkeypatch, "amd64")
    resolver_ = arch_resolver("false", "aarch64", tmp_path)
    with pytest.raises(LabError, match=r"^base-rust: docker.io/library/rust@sha256:abab\S+ is an image for amd64, "
                                       r"not for this aarch64 host \(its pinned digest names one platform's image"):
        resolver_.get("base-rust")
    assert "base-rust" not in resolver_.lock.entries


def test_auto_takes_the_kit_when_the_local_image_is_of_another_architecture(rust_catalog, monkeypatch, tmp_path,
                                                                            fake_kit, capsys):
    on_docker(monkeypatch, "amd64", present=True)
    monkeypatch.setattr(kit, "artifact", lambda name: {"name": name, "image": {"ref": "wasm-lab-kit/rust-builder:1"}})
    image = arch_resolver("auto", "aarch64", tmp_path).get("base-rust")
    assert image.ref == "wasm-lab-kit/rust-builder:1" and fake_kit == ["rust-builder"]
    assert "is an image for amd64, not for this aarch64 host" in capsys.readouterr().err


X86_ONLY_KIT = {"node-image": "node-containerd2", "shim-wasmedge": "shims", "shim-wasmtime": "shims",
                "base-wasmtime": "wasmtime-cli"}


@pytest.mark.parametrize("name, kit_artifact", sorted(X86_ONLY_KIT.items()))
def test_the_kits_x86_64_only_recipes_are_no_origin_on_aarch64(name, kit_artifact):
    def kit_origins(arch):
        found = artifacts.Resolver("auto", Mirrors(), LockFile(Path("/nonexistent")), arch, "kind").origins(name)
        return [o["artifact"] for o in found if o["origin"] == "kit"]
    assert kit_origins("x86_64") == [kit_artifact]
    assert kit_origins("aarch64") == []


def test_the_kits_debian_package_recipes_serve_both_architectures():
    for arch in ARCHES:
        found = artifacts.Resolver("true", Mirrors(), LockFile(Path("/nonexistent")), arch, "kind")
        assert [o["artifact"] for o in found.origins("base-wasmedge")] == ["wasmedge-cli"]
        assert [o["artifact"] for o in found.origins("lab-registry")] == ["registry"]


def test_auto_plans_no_x86_64_kit_build_for_an_aarch64_wasmedge_shim(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = load_spec(None, {"runtimes": ["wasmedge"]})
    rows = artifact_plan.plan(spec, ("wasmedge",), (), "kind", ("aarch64",))
    (shim,) = [r for r in rows if r["artifact"] == "shim-wasmedge"]
    assert shim["origin"] == "release v0.6.1" and shim["note"].endswith("pins it): FAILS")
