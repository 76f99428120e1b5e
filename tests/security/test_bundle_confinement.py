"""A bundle names files and folders on the laptop that imports it: every name is checked before a
byte of it is written. Each attack is a hand-made bundle whose FILE.sha256 matches (the attacker
made both); each is refused in one line, and nothing under the test's folder changes but the
kit's import lock."""
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from lab import kit
from lab.kit import bundle_checks as checks
from lab.kit.bundle import importer, layout
from lab.kit.store import KitStore
from tests.security.handmade import (  # noqa: F401
    assert_refused_and_nothing_written,
    attendee,
    digest,
    files_entry,
    index_of,
    member,
    seal,
    snapshot,
    write_bundle,
)
from tests.unit.test_bad_input_table import run_cli
from tests.unit.test_kit_recipes import recipe_root  # noqa: F401 (fixture)

TOOL = b"#!/bin/sh\necho owned\n"


def import_file(path, store):
    return lambda: importer.import_bundle(str(path), store=store)


def test_a_well_formed_hand_made_bundle_is_imported(attendee, tmp_path):  # noqa: F811
    """The baseline the attacks change one thing of: the checks let an honest bundle through."""
    entry, blobs = files_entry({"bin/tool": TOOL, "share/x": b"data"})
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), blobs)
    assert [row["action"] for row in importer.import_bundle(str(path), store=attendee)] == ["imported"]
    assert (attendee.verified_path("tool") / "bin/tool").read_bytes() == TOOL


def test_every_artifact_of_this_checkout_s_recipes_passes_the_checks():
    """The checks refuse what a bundle must not say, not what kit.export writes for these recipes
    (Debian versions such as 1.21-1-wasmedge0.14.1+dfsg-3.1 included)."""
    artifacts = {}
    for planned in kit.plan():
        entry = {"name": planned.recipe.name, "kind": planned.recipe.kind, "version": planned.version,
                 "key": planned.key, "description": planned.recipe.description, "built_at": "2026-12-01T00:00:00+00:00",
                 "build_seconds": 1.5, "size_bytes": 1}
        if planned.recipe.produces_image:
            entry["image"] = {"ref": f"wasm-lab-kit/{planned.recipe.name}:{planned.version}",
                              "id": "sha256:" + "0" * 64, "archive": [{"name": "manifest.json", "sha256": "0" * 64}]}
        else:
            entry["files"] = {"bin/tool": "0" * 64}
        artifacts[planned.recipe.name] = entry
    assert checks.check_index(index_of(*artifacts.values()))["artifacts"] == artifacts


@pytest.mark.parametrize("attack, pattern", [
    ("absolute", r"path '/.*outside/tool' is not relative and inside its artifact"),
    ("dotdot", r"path '\.\./\.\./\.\./\.\./outside/tool' is not relative and inside its artifact"),
    ("inner-dotdot", r"path 'bin/\.\./\.\./x' is not relative and inside its artifact"),
    ("dot", r"path '\./bin/tool' is not relative and inside its artifact"),
    ("control", r"path 'bin/\\x1b\]0;x\\x07' is not relative and inside its artifact"),
    ("entry-name", r"artifact tool calls itself '\.\./\.\./outside'"),
    ("index-name", r"artifact name '\.\./\.\./outside' is not a kit artifact name"),
    ("newline-name", r"artifact name 'tool\\n' is not a kit artifact name"),
    ("file-and-folder", r"artifact tool: bin is both a file and a folder"),
    ("dot-file", r"path '\.' is not relative and inside its artifact"),
    ("executable-elsewhere", r"executable '/usr/bin/x' is not one of its files"),
])
def test_a_path_leaving_the_artifact_is_refused_before_anything_is_written(attendee, tmp_path, attack,  # noqa: F811
                                                                            pattern):
    outside = tmp_path / "outside" / "tool"
    files = {"absolute": {str(outside): TOOL}, "dotdot": {"../../../../outside/tool": TOOL},
             "inner-dotdot": {"bin/../../x": TOOL}, "dot": {"./bin/tool": TOOL},
             "control": {"bin/\x1b]0;x\x07": TOOL}, "file-and-folder": {"bin": TOOL, "bin/tool": TOOL},
             "dot-file": {".": TOOL, "x": TOOL},
             }.get(attack, {"bin/tool": TOOL})
    entry, blobs = files_entry(files)
    if attack == "entry-name":
        entry["name"] = "../../outside"
    if attack == "executable-elsewhere":
        entry["executables"] = ["/usr/bin/x"]
    if attack == "newline-name":
        entry["name"] = "tool\n"
    index = index_of(entry, name_as={"index-name": "../../outside", "newline-name": "tool\n"}.get(attack, "tool"))
    path = write_bundle(tmp_path / "kit.tar", index, blobs)
    message = assert_refused_and_nothing_written(import_file(path, attendee), pattern, tmp_path)
    assert message.startswith(f"kit bundle {path}: ") and message.endswith(": refused, nothing was imported")
    assert not outside.exists() and attendee.entry("tool") is None


@pytest.mark.parametrize("kind, linkname, shown", [
    (tarfile.SYMTYPE, "/etc/passwd", "symbolic link"),
    (tarfile.LNKTYPE, checks.INDEX, "hard link"),
    (tarfile.CHRTYPE, "", "device"),
    (tarfile.FIFOTYPE, "", "fifo"),
    (tarfile.DIRTYPE, "", "folder"),
])
def test_a_member_that_is_not_a_plain_file_is_refused(attendee, tmp_path, kind, linkname, shown):  # noqa: F811
    entry, _ = files_entry({"etc-passwd": b"root:x:0:0::/root:/bin/sh\n"})
    blob = next(iter(entry["files"].values()))
    link = member(f"{checks.BLOBS}/{blob}", kind=kind, linkname=linkname, devmajor=1, devminor=3)
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), {}, extra=[link])
    assert_refused_and_nothing_written(import_file(path, attendee),
                                       rf"member 'blobs/sha256/{blob}' is a {shown}, not a plain file", tmp_path)


@pytest.mark.parametrize("form", ["gnu", "posix"])
def test_a_sparse_member_is_refused_before_it_is_expanded(attendee, tmp_path, form):  # noqa: F811
    """A few KB of archive that would unpack to 64 MiB of zeros (GNU and PAX sparse headers)."""
    size = 64 << 20
    blob = digest(bytes(size))
    source = tmp_path / "source"
    (source / checks.BLOBS).mkdir(parents=True)
    with open(source / checks.BLOBS / blob, "wb") as sparse:
        sparse.truncate(size)
    entry, _ = files_entry({"data": b""})
    entry["files"] = {"data": blob}
    (source / checks.INDEX).write_text(json.dumps(index_of(entry)))
    path = tmp_path / "kit.tar"
    subprocess.run(["tar", "-C", source, "--sparse", f"--format={form}", "-cf", path, checks.INDEX,
                    f"{checks.BLOBS}/{blob}"], check=True)
    assert path.stat().st_size < 64 << 10
    seal(path)
    assert_refused_and_nothing_written(import_file(path, attendee),
                                       rf"member 'blobs/sha256/{blob}' is a sparse file, not a plain file", tmp_path)


@pytest.mark.parametrize("cut, pattern", [
    ("in-a-blob", r"the archive is damaged or truncated \(unexpected end of data\)"),
    ("after-the-index", r"1 blobs its index lists are missing \(a partial bundle\)"),
    ("in-a-header", r"the archive is damaged or truncated|not an uncompressed tar archive|missing"),
])
def test_a_truncated_archive_is_refused(attendee, tmp_path, cut, pattern):  # noqa: F811
    """Its FILE.sha256 is of the truncated bytes: the cut is the attacker's, not the network's."""
    entry, blobs = files_entry({"big": bytes(range(256)) * 4096})
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), blobs)
    with tarfile.open(path) as tar:
        blob_member = tar.getmembers()[1]
    end = {"in-a-blob": blob_member.offset_data + 1000, "after-the-index": blob_member.offset,
           "in-a-header": blob_member.offset + 100}[cut]
    with open(path, "r+b") as archive:
        archive.truncate(end)
    seal(path)
    assert_refused_and_nothing_written(import_file(path, attendee), pattern, tmp_path)


WRONG_SHAPES = {
    "a list": ([], r"its index is a JSON list, not an object"),
    "not JSON": (b"{not json", r"its index is not JSON"),
    "artifacts a list": ({"schema": 2, "for": "build", "artifacts": []}, r"artifacts is not an object of artifacts by name"),
    "entry a list": ({"schema": 2, "for": "build", "artifacts": {"tool": []}}, r"artifact tool is not an object"),
    "another schema": ({"schema": 1, "artifacts": {}}, r"schema 1; this wasm-lab reads 2"),
    "no purpose": ({"schema": 2, "artifacts": {}}, r"for is None, not one of build, workshop"),
    "another purpose": ({"schema": 2, "for": "hooks", "artifacts": {}}, r"for is 'hooks', not one of build, workshop"),
    "unknown top field": ({"schema": 2, "for": "build", "artifacts": {}, "hooks": "rm -rf /"}, r"unknown field 'hooks'"),
    "workloads a list": ({"schema": 2, "for": "workshop", "artifacts": {}, "workloads": []},
                         r"workloads is not an object of workload images by target"),
    "files a list": ("files", r"artifact tool: files is a JSON list"),
    "version a number": ("version", r"artifact tool: version is a JSON int"),
    "size a boolean": ("size_bytes", r"artifact tool: size_bytes is a JSON bool"),
    "key not hex": ("key", r"artifact tool: key is not a sha256"),
    "digest not hex": ("digest", r"artifact tool: bin/tool has no sha256"),
    "path field": ("path", r"artifact tool has an unknown field 'path'"),
    "both files and image": ("image", r"artifact tool of kind files needs files and nothing else"),
}


@pytest.mark.parametrize("shape", WRONG_SHAPES, ids=list(WRONG_SHAPES))
def test_an_index_of_the_wrong_shape_is_refused(attendee, tmp_path, shape):  # noqa: F811
    change, pattern = WRONG_SHAPES[shape]
    entry, blobs = files_entry({"bin/tool": TOOL})
    mutations = {"files": ("files", ["bin/tool"]), "version": ("version", 1), "size_bytes": ("size_bytes", True),
                 "key": ("key", "../" * 8), "digest": ("files", {"bin/tool": "../x"}), "path": ("path", "/"),
                 "image": ("image", {"ref": "x", "id": "y", "archive": []})}
    if isinstance(change, str):
        field, value = mutations[change]
        entry[field] = value
        index = index_of(entry)
    else:
        index = change
    path = write_bundle(tmp_path / "kit.tar", index, blobs)
    assert_refused_and_nothing_written(import_file(path, attendee), pattern, tmp_path)


@pytest.mark.parametrize("archive, pattern", [
    ([{"name": "../../outside/x", "sha256": "0" * 64}], r"image archive: path '\.\./\.\./outside/x' is not relative"),
    ([{"name": "/etc/cron.d/x", "sha256": "0" * 64}], r"image archive: path '/etc/cron\.d/x' is not relative"),
    ([{"name": "l", "type": "symlink", "target": "/etc/shadow"}], r"image archive link l points outside the archive"),
    ([{"name": "a/l", "type": "symlink", "target": "../../x"}], r"image archive link a/l points outside the archive"),
    ([{"name": "b", "type": "symlink", "target": "."}, {"name": "a", "type": "symlink", "target": "b/.."}],
     r"image archive link a leads through another link"),
    ([{"name": "d/b", "type": "symlink", "target": ".."}, {"name": "a", "type": "symlink", "target": "d/b/x"}],
     r"image archive link a leads through another link"),
    ([{"name": ".", "type": "dir"}], r"image archive: path '\.' is not relative"),
    ([{"name": "x", "sha256": "0" * 64}, {"name": "x", "type": "dir"}], r"member x is listed twice"),
    ([{"name": "x", "type": "hardlink", "target": "y"}], r"member x is not a file, folder or link"),
])
def test_an_image_archive_member_leaving_the_archive_is_refused(attendee, tmp_path, archive, pattern):  # noqa: F811
    """What the import rebuilds for docker load is checked like a files artifact."""
    entry = {"name": "sectest-tiny", "kind": "image", "version": "v1.2.3", "key": "0" * 64,
             "image": {"ref": "wasm-lab-kit/sectest-tiny:v1.2.3", "id": "sha256:" + "0" * 64, "archive": archive}}
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), {})
    assert_refused_and_nothing_written(import_file(path, attendee), pattern, tmp_path)


def test_members_other_than_the_index_and_blobs_are_refused(attendee, tmp_path):  # noqa: F811
    entry, blobs = files_entry({"bin/tool": TOOL})
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), blobs, extra=[member("../../outside/x", 4)])
    assert_refused_and_nothing_written(import_file(path, attendee),
                                       r"member '\.\./\.\./outside/x' is neither its index nor a blob", tmp_path)
    with tarfile.open(path, "w") as tar:  # the index not first
        tar.addfile(member(f"{checks.BLOBS}/{'0' * 64}", 0), io.BytesIO(b""))
    seal(path)
    assert_refused_and_nothing_written(import_file(path, attendee), r"no wasm-lab-kit.json first", tmp_path)


def test_a_bundle_naming_one_blob_over_and_over_cannot_fill_the_disk(attendee, tmp_path, monkeypatch):  # noqa: F811
    """10,000 files of one 64 KiB blob: 655 MB to place from a 70 KB bundle. A fake disk with
    500 MB free stands for a full one."""
    data = bytes(64 << 10)
    entry, blobs = files_entry({f"copy/{i}": data for i in range(10_000)})
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), blobs)
    real_usage = importer.shutil.disk_usage
    monkeypatch.setattr(importer.shutil, "disk_usage",
                        lambda folder: real_usage(folder)._replace(free=500 * 10**6))  # fake: a nearly full disk
    assert_refused_and_nothing_written(import_file(path, attendee),
                                       r"it would write 0\.7 GB into .*, which has 0\.5 GB free "
                                       r"\(an import leaves 1\.0 GB\)", tmp_path)


def test_leftovers_of_an_interrupted_import_go_and_what_verifies_is_kept(attendee, tmp_path):  # noqa: F811
    entry, blobs = files_entry({"bin/tool": TOOL, "share/x": b"data"})
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), blobs)
    blob_dir = attendee.root / "imports" / "blobs"
    (blob_dir / "stray").mkdir(parents=True)
    (blob_dir / ".blob.k2j3h4").write_bytes(b"half a blob")  # the temporary file of a killed import
    (blob_dir / digest(TOOL)).write_bytes(TOOL)
    (blob_dir / digest(b"data")).write_bytes(b"tampered")  # a kept blob that no longer verifies
    with tarfile.open(path) as tar:
        members = {member.name.rsplit("/", 1)[-1]: member for member in tar.getmembers()[1:]}
        importer._unpack(tar, members, blob_dir, {})
    assert {blob.name: blob.read_bytes() for blob in blob_dir.iterdir()} == {digest(TOOL): TOOL,
                                                                             digest(b"data"): b"data"}
    assert [row["action"] for row in importer.import_bundle(str(path), store=attendee)] == ["imported"]
    assert not blob_dir.exists()
    assert (attendee.verified_path("tool") / "share/x").read_bytes() == b"data"


def test_a_blob_that_fails_its_check_leaves_no_temporary_file(attendee, tmp_path):  # noqa: F811
    entry, blobs = files_entry({"bin/tool": TOOL})
    lying = {next(iter(blobs)): b"#!/bin/sh\nrm -rf ~\n"}
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), lying)
    assert_refused_and_nothing_written(import_file(path, attendee), r"blob [0-9a-f]{16}… has sha256", tmp_path)


def test_an_interrupted_blob_copy_removes_its_temporary_file(tmp_path):
    class Interrupted(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        layout.store_blob(Interrupted(), tmp_path, expected="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_says_a_refusal_in_one_line_with_exit_1(attendee, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("WASM_LAB_KIT_DIR", str(attendee.root))
    entry, blobs = files_entry({"../../../../outside/tool": TOOL})
    path = write_bundle(tmp_path / "kit.tar", index_of(entry), blobs)
    before = snapshot(tmp_path)
    code, err = run_cli(["kit.import", str(path)], monkeypatch, capsys)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"error: kit bundle {path}: artifact tool: path '../../../../outside/tool' is not relative")
    assert snapshot(tmp_path) == before


def test_a_malformed_sparse_header_is_a_refusal_not_an_error():
    """tarfile raises ValueError for a GNU sparse PAX header whose map it cannot read."""
    raw = io.BytesIO()
    blob = b"x" * 600
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, pax in [(checks.INDEX, b"{}", {}),
                                (f"{checks.BLOBS}/{hashlib.sha256(blob).hexdigest()}", blob,
                                 {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": "600"})]:
            info = tarfile.TarInfo(name)
            info.size, info.pax_headers = len(data), pax
            tar.addfile(info, io.BytesIO(data))
    with tarfile.open(fileobj=io.BytesIO(raw.getvalue()), mode="r:") as tar:
        with pytest.raises(checks.Refused, match="the archive is damaged or truncated"):
            checks.check_members(tar)


def test_a_link_where_the_import_stages_its_files_is_not_written_through(tmp_path):
    """Someone who can write in the kit folder plants a link at the staging name: the import
    removes the link and stages in a folder of its own, never in what the link names."""
    store = KitStore(tmp_path / "kit")
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    digest = hashlib.sha256(b"tool").hexdigest()
    (blobs / digest).write_bytes(b"tool")
    entry = {"name": "tool", "kind": "files", "version": "1", "key": "0" * 64, "files": {"planted": digest}}
    victim = tmp_path / "victim"
    victim.mkdir()
    target = store.artifact_dir("tool", entry["key"])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_name(target.name + ".import").symlink_to(victim)

    record = importer._install(entry, blobs, store)

    assert list(victim.iterdir()) == []
    assert (Path(record["path"]) / "planted").read_bytes() == b"tool"


def gzipped(data: bytes) -> bytes:
    import gzip
    return gzip.compress(data, compresslevel=1, mtime=0)


@pytest.mark.parametrize("stored, declared, pattern", [
    (gzipped(b"\0" * (4 << 20)), 1 << 20, r"blob [0-9a-f]{16}… expands past the size its index declares"),
    (b"\0" * (1 << 20), 1 << 20, r"blob [0-9a-f]{16}… is not gzip"),
    (gzipped(b"\0" * (1 << 20))[:-9], 1 << 20, r"blob [0-9a-f]{16}… is not gzip"),
    (gzipped(b"\1" * (1 << 20)), 1 << 20, r"blob [0-9a-f]{16}… has sha256"),
])
def test_a_compressed_blob_expands_only_to_what_its_index_declares(attendee, tmp_path, stored, declared,  # noqa: F811
                                                                   pattern):
    """A gzip bomb, bytes that are not gzip, a cut stream and another content are refused while
    they are unpacked, their partial blob gone; the free space was checked against the declared size."""
    data = b"\0" * (1 << 20)
    entry, _ = files_entry({"share/data": data})
    index = {**index_of(entry), "encoded": {digest(data): {"encoding": "gzip", "size": declared}}}
    path = write_bundle(tmp_path / "kit.tar", index, {digest(data): stored})
    assert_refused_and_nothing_written(import_file(path, attendee), pattern, tmp_path)


def test_a_compressed_blob_is_imported_as_what_it_expands_to(attendee, tmp_path):  # noqa: F811
    data = b"wasm-lab " * 200_000
    entry, _ = files_entry({"share/data": data})
    index = {**index_of(entry), "encoded": {digest(data): {"encoding": "gzip", "size": len(data)}}}
    path = write_bundle(tmp_path / "kit.tar", index, {digest(data): gzipped(data)})
    assert [row["action"] for row in importer.import_bundle(str(path), store=attendee)] == ["imported"]
    assert (attendee.verified_path("tool") / "share/data").read_bytes() == data


@pytest.mark.parametrize("encoded, pattern", [
    ({"x" * 64: {"encoding": "gzip", "size": 1}}, r"encoded blob 'x{64}' is not"),
    ({"0" * 64: {"encoding": "xz", "size": 1}}, r"encoded blob '0{64}' is not \{encoding: gzip"),
    ({"0" * 64: {"encoding": "gzip", "size": True}}, r"encoded blob '0{64}' is not"),
    ({"0" * 64: {"encoding": "gzip", "size": (1 << 40) + 1}}, r"encoded blob '0{64}' is not"),
    ({"0" * 64: {"encoding": "gzip", "size": 1, "run": "sh"}}, r"encoded blob '0{64}' is not"),
    ([], r"encoded is not an object of compressed blobs by sha256"),
])
def test_an_index_s_compressed_blobs_are_checked(encoded, pattern):
    with pytest.raises(checks.Refused, match=pattern):
        checks.check_index({**index_of(), "encoded": encoded})


def test_the_free_space_is_checked_against_what_compressed_blobs_declare(attendee, tmp_path):  # noqa: F811
    data = b"\0" * (1 << 20)
    entry, _ = files_entry({"share/data": data})
    index = {**index_of(entry), "encoded": {digest(data): {"encoding": "gzip", "size": 1 << 40}}}
    path = write_bundle(tmp_path / "kit.tar", index, {digest(data): gzipped(data)})
    assert_refused_and_nothing_written(import_file(path, attendee), r"it would write 2199\.0 GB into", tmp_path)
