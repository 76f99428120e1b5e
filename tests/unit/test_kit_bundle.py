"""Kit bundles on a files recipe of the tests' own, built for real on the host; the bundle travels
through a file and through kit.serve's HTTP server on 127.0.0.1. Images in bundles (docker save and
load) are covered by tests/e2e/test_bundle.py on the real kit."""
import json
import os
import tarfile
import threading

import pytest

from lab import kit
from lab.errors import InputError, LabError
from lab.kit import bundle_checks as checks
from lab.kit.bundle import export, importer, serve
from lab.kit.store import KitStore
from tests.unit.test_kit_recipes import recipe_root, write_recipe  # noqa: F401 (fixture)

TOOL = ('mkdir -p "$KIT_OUT/bin" "$KIT_OUT/share" && printf "#!/bin/sh\\necho tool\\n" > "$KIT_OUT/bin/tool" '
        '&& chmod 755 "$KIT_OUT/bin/tool" && head -c 300000 /dev/urandom > "$KIT_OUT/share/data" '
        '&& cp "$KIT_OUT/share/data" "$KIT_OUT/share/same-data"\n')


@pytest.fixture
def built(recipe_root, tmp_path):  # noqa: F811
    write_recipe(recipe_root, "tool", "name: tool\nkind: files\nversion: 'v{tool}'\nversions: [tool]\n"
                 "run: [sh, build.sh]\n", {"build.sh": TOOL})
    store = KitStore(tmp_path / "trainer")
    kit.build(["tool"], store=store)
    return store


def test_export_then_import_from_a_file_gives_the_same_artifact(built, tmp_path):
    done = export.export(tmp_path / "kit.tar", ["tool"], built)
    assert (tmp_path / "kit.tar.sha256").read_text() == f"{done['sha256']}  kit.tar\n"
    with tarfile.open(tmp_path / "kit.tar") as tar:
        names = tar.getnames()
    assert names[0] == checks.INDEX
    assert len(names) == 1 + 2  # the two identical data files are one blob
    attendee = KitStore(tmp_path / "attendee")
    rows = importer.import_bundle(str(tmp_path / "kit.tar"), store=attendee)
    assert rows == [{"name": "tool", "version": "v1.2.3", "action": "imported"}]
    entry = attendee.entry("tool")
    assert entry["files"] == built.entry("tool")["files"]
    assert entry["imported_from"]["bundle"] == done["sha256"]
    root = attendee.verified_path("tool")
    assert os.access(root / "bin/tool", os.X_OK) and not os.access(root / "share/data", os.X_OK)
    assert [r["action"] for r in kit.build(["tool"], store=attendee)] == ["cached"]
    assert not (attendee.root / "imports" / "blobs").exists()
    again = importer.import_bundle(str(tmp_path / "kit.tar"), store=attendee)
    assert [r["action"] for r in again] == ["present"]


def test_one_flipped_byte_is_refused_before_anything_is_imported(built, tmp_path):
    export.export(tmp_path / "kit.tar", ["tool"], built)
    data = bytearray((tmp_path / "kit.tar").read_bytes())
    data[len(data) // 2] ^= 0x01
    (tmp_path / "kit.tar").write_bytes(bytes(data))
    attendee = KitStore(tmp_path / "attendee")
    with pytest.raises(LabError, match=r"^kit bundle .*kit.tar: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}: refused"):
        importer.import_bundle(str(tmp_path / "kit.tar"), store=attendee)
    assert attendee.entry("tool") is None and not (attendee.root / "artifacts").exists()


def test_a_bundle_needs_its_checksum(built, tmp_path):
    export.export(tmp_path / "kit.tar", ["tool"], built)
    digest = (tmp_path / "kit.tar.sha256").read_text().split()[0]
    (tmp_path / "kit.tar.sha256").unlink()
    attendee = KitStore(tmp_path / "attendee")
    with pytest.raises(InputError, match="^sha256: .*kit.tar has no kit.tar.sha256 beside it; pass --sha256"):
        importer.import_bundle(str(tmp_path / "kit.tar"), store=attendee)
    with pytest.raises(InputError, match="^sha256: 'abc' is neither a sha256 \\(64 hex digits\\) nor a fingerprint"):
        importer.import_bundle(str(tmp_path / "kit.tar"), sha256="abc", store=attendee)
    assert [r["action"] for r in importer.import_bundle(str(tmp_path / "kit.tar"), digest, attendee)] == ["imported"]


def test_a_bundle_of_other_recipes_is_skipped_not_recorded(built, recipe_root, tmp_path):  # noqa: F811
    export.export(tmp_path / "kit.tar", ["tool"], built)
    (recipe_root / "versions.yaml").write_text('tool: "9.9.9"\nother-tool: "4"\n')
    attendee = KitStore(tmp_path / "attendee")
    rows = importer.import_bundle(str(tmp_path / "kit.tar"), store=attendee)
    assert rows == [{"name": "tool", "version": "v1.2.3",
                     "action": "skipped: made from other recipes than this checkout's"}]
    assert attendee.entry("tool") is None


def test_export_refuses_what_is_not_built(built, tmp_path):
    built.forget("tool")
    with pytest.raises(LabError, match="^kit.export: tool not built here \\(or stale\\); run: invoke kit.build --only tool"):
        export.export(tmp_path / "kit.tar", ["tool"], built)
    assert not (tmp_path / "kit.tar").exists()


@pytest.fixture
def served(built, tmp_path, isolated_state):
    """kit.serve's server on 127.0.0.1, recording each request's path and Range header (the digest
    the laptop trusts is recorded in a state folder of the test's own)."""
    export.export(tmp_path / "kit.tar", ["tool"], built)
    httpd = serve.server(tmp_path / "kit.tar", "127.0.0.1", 0)
    requests = []
    answer = httpd.RequestHandlerClass._answer

    def recording(handler, with_body):
        requests.append((handler.path, handler.headers.get("Range")))
        answer(handler, with_body)

    httpd.RequestHandlerClass._answer = recording
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()


def test_import_from_kit_serve_resumes_an_interrupted_download(served, tmp_path):
    address, requests = served
    digest = (tmp_path / "kit.tar.sha256").read_text().split()[0]
    attendee = KitStore(tmp_path / "attendee")
    half = (tmp_path / "kit.tar").read_bytes()[:200_000]
    (attendee.root / "imports").mkdir(parents=True)
    (attendee.root / "imports" / f"{digest}.tar.partial").write_bytes(half)
    rows = importer.import_bundle(address, store=attendee)
    assert [r["action"] for r in rows] == ["imported"]
    assert ("/kit.tar", "bytes=200000-") in requests
    assert attendee.entry("tool")["files"] == json.loads(
        tarfile.open(tmp_path / "kit.tar").extractfile(checks.INDEX).read())["artifacts"]["tool"]["files"]
    assert list((attendee.root / "imports").iterdir()) == []
    requests.clear()
    assert [r["action"] for r in importer.import_bundle(address + "/", store=attendee)] == ["present"]
    assert [path for path, _ in requests] == ["/kit.tar.json"]  # nothing to import: no download


def test_a_wrong_checksum_from_the_server_refuses_the_download(served, tmp_path):
    address, _ = served
    attendee = KitStore(tmp_path / "attendee")
    with pytest.raises(LabError, match=r"^kit bundle http://127.0.0.1:\d+/kit.tar: sha256 .*: refused"):
        importer.import_bundle(address, sha256="0" * 64, store=attendee)
    assert attendee.entry("tool") is None
    assert not list((attendee.root / "imports").glob("*.tar*"))
    with pytest.raises(LabError, match="HTTP 404; nothing was imported"):
        importer.import_bundle(address + "/other.tar", sha256="0" * 64, store=attendee)


def test_large_blobs_travel_compressed_where_that_saves_space_and_import_the_same(recipe_root, tmp_path):  # noqa: F811
    write_recipe(recipe_root, "tool", "name: tool\nkind: files\nversion: 'v{tool}'\nversions: [tool]\n"
                 "run: [sh, build.sh]\n", {"build.sh": 'mkdir -p "$KIT_OUT" && yes wasm-lab | head -c 3000000 > '
                                           '"$KIT_OUT/text" && head -c 2000000 /dev/urandom > "$KIT_OUT/random" '
                                           '&& yes small | head -c 200000 > "$KIT_OUT/small"\n'})
    trainer = KitStore(tmp_path / "trainer")
    kit.build(["tool"], store=trainer)
    export.export(tmp_path / "kit.tar", ["tool"], trainer)
    files = trainer.entry("tool")["files"]
    with tarfile.open(tmp_path / "kit.tar") as tar:
        index = json.loads(tar.extractfile(checks.INDEX).read())
        stored = {m.name.rsplit("/", 1)[-1]: m.size for m in tar.getmembers()[1:]}
    # not the random one (gzip saves nothing), not the small one (image manifests are read as they lie)
    assert index["encoded"] == {files["text"]: {"encoding": "gzip", "size": 3000000}}
    assert stored[files["text"]] < 100_000 and stored[files["random"]] == 2000000
    attendee = KitStore(tmp_path / "attendee")
    assert [r["action"] for r in importer.import_bundle(str(tmp_path / "kit.tar"), store=attendee)] == ["imported"]
    assert attendee.entry("tool")["files"] == files
    assert (attendee.verified_path("tool") / "text").read_bytes() == (trainer.verified_path("tool") / "text").read_bytes()
