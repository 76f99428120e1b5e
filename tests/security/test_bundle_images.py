"""A bundle's images get tags on the laptop: only the kit's own tag for that artifact, only the
one its index names, never a tag that names another image here, and kit.clean takes away only
what the kit tagged. Tiny images made with `docker import` under test-owned names
(wasmlab-sectest/…, wasm-lab-kit/sectest-tiny), removed after each test."""
import io
import json
import tarfile

import docker
import pytest

from lab import kit
from lab.kit.bundle import export, importer
from tests.security.handmade import (  # noqa: F401
    IMAGE_RECIPE,
    IMAGE_REF,
    USER_REF,
    assert_refused_and_nothing_written,
    attendee,
    digest,
    index_of,
    key_of,
    write_bundle,
)
from tests.unit.test_kit_recipes import recipe_root  # noqa: F401 (fixture)

pytestmark = pytest.mark.docker


@pytest.fixture
def images(docker_engine):
    """make(ref, text) -> image id of a one-file image; every ref the test used is removed after."""
    used = {IMAGE_REF, USER_REF}

    def make(ref: str, text: str) -> str:
        used.add(ref)
        layer = io.BytesIO()
        with tarfile.open(fileobj=layer, mode="w") as tar:
            info = tarfile.TarInfo("owner.txt")
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
        repository, tag = ref.rsplit(":", 1)
        docker_engine.api.import_image_from_data(layer.getvalue(), repository=repository, tag=tag)
        return docker_engine.images.get(ref).id

    yield make
    for ref in used:
        try:
            docker_engine.images.remove(ref, force=True)
        except docker.errors.ImageNotFound:
            pass


def image_id(ref: str) -> str | None:
    try:
        return docker.from_env().images.get(ref).id
    except docker.errors.ImageNotFound:
        return None


def saved(ref: str, tmp_path) -> tuple[list[dict], dict[str, bytes]]:
    """`docker save` of `ref` as a bundle stores it: (archive members, blobs by sha256)."""
    folder = tmp_path / "saved"
    folder.mkdir(exist_ok=True)
    members = export._save_image(ref, folder)
    return members, {blob.name: blob.read_bytes() for blob in folder.iterdir()}


def rewritten(members: list[dict], blobs: dict[str, bytes], name: str, change) -> list[dict]:
    """The archive with one of its JSON files changed by `change` (as an attacker would; a file it
    lacks is added, `change` getting None)."""
    item = next((item for item in members if item["name"] == name), None)
    if item is None:
        item = {"name": name}
        members.append(item)
    data = json.dumps(change(json.loads(blobs[item["sha256"]]) if "sha256" in item else None)).encode()
    item["sha256"] = digest(data)
    blobs[item["sha256"]] = data
    return members


def image_bundle(tmp_path, image: str, ref: str, members: list[dict], blobs: dict[str, bytes]):
    entry = {"name": IMAGE_RECIPE, "kind": "image", "version": "v1.2.3", "key": key_of(IMAGE_RECIPE),
             "image": {"ref": ref, "id": image, "archive": members}}
    return write_bundle(tmp_path / "kit.tar", index_of(entry), blobs)


@pytest.fixture
def offered(images, tmp_path):
    """The bundle's image (saved under the kit's tag, then removed here), and the user's own image
    under USER_REF: (bundle image id, user image id, archive members, blobs)."""
    offered_id = images(IMAGE_REF, "from the bundle")
    members, blobs = saved(IMAGE_REF, tmp_path)
    docker.from_env().images.remove(IMAGE_REF)
    return offered_id, images(USER_REF, "the user's own"), members, blobs


def test_an_image_loads_under_the_kit_s_own_tag_and_nothing_else(attendee, offered, tmp_path):  # noqa: F811
    offered_id, user_id, members, blobs = offered
    path = image_bundle(tmp_path, offered_id, IMAGE_REF, members, blobs)
    assert [row["action"] for row in importer.import_bundle(str(path), store=attendee)] == ["imported"]
    assert image_id(IMAGE_REF) == offered_id and image_id(USER_REF) == user_id


def test_an_image_entry_may_carry_only_the_kit_s_own_reference(attendee, offered, tmp_path):  # noqa: F811
    offered_id, user_id, members, blobs = offered
    members = rewritten(members, blobs, "manifest.json", lambda m: [{**m[0], "RepoTags": [USER_REF]}])
    path = image_bundle(tmp_path, offered_id, USER_REF, members, blobs)
    assert_refused_and_nothing_written(
        lambda: importer.import_bundle(str(path), store=attendee),
        r"artifact sectest-tiny: image 'wasmlab-sectest/user:mine' is not the kit's own "
        r"wasm-lab-kit/sectest-tiny:v1\.2\.3", tmp_path)
    assert image_id(USER_REF) == user_id and image_id(offered_id) is None


@pytest.mark.parametrize("file, change, pattern", [
    ("manifest.json", lambda m: [{**m[0], "RepoTags": [USER_REF]}],
     r"its image archive tags \['wasmlab-sectest/user:mine'\], "
     r"the index says \['wasm-lab-kit/sectest-tiny:v1\.2\.3'\]"),
    ("manifest.json", lambda m: [{**m[0], "RepoTags": [IMAGE_REF, USER_REF]}], r"its image archive tags \["),
    ("repositories", lambda r: {"wasmlab-sectest/user": {"mine": "x"}},
     r"its image archive's repositories file names other tags than wasm-lab-kit/sectest-tiny:v1\.2\.3"),
    ("manifest.json", lambda m: [{**m[0], "Config": m[0]["Layers"][0]}],
     r"its image archive's config is not image sha256:"),
    ("index.json", lambda _: {"manifests": [{"annotations": {"io.containerd.image.name": f"docker.io/{USER_REF}"}}]},
     r"its image archive's index.json names other images than wasm-lab-kit/sectest-tiny:v1\.2\.3"),
])
def test_the_archive_must_tag_what_the_index_says_and_nothing_else(attendee, offered, tmp_path, file, change,  # noqa: F811
                                                                     pattern):
    offered_id, user_id, members, blobs = offered
    path = image_bundle(tmp_path, offered_id, IMAGE_REF, rewritten(members, blobs, file, change), blobs)
    assert_refused_and_nothing_written(lambda: importer.import_bundle(str(path), store=attendee), pattern, tmp_path)
    assert image_id(USER_REF) == user_id and image_id(IMAGE_REF) is None and image_id(offered_id) is None


def test_a_tag_naming_another_image_here_is_never_moved(attendee, offered, images, tmp_path):  # noqa: F811
    offered_id, _, members, blobs = offered
    mine = images(IMAGE_REF, "made here under the kit's name")
    path = image_bundle(tmp_path, offered_id, IMAGE_REF, members, blobs)
    assert_refused_and_nothing_written(
        lambda: importer.import_bundle(str(path), store=attendee),
        rf"wasm-lab-kit/sectest-tiny:v1\.2\.3 is image {mine} here, the bundle's is {offered_id}, and an import "
        r"never moves a tag \(remove it first: docker rmi wasm-lab-kit/sectest-tiny:v1\.2\.3\)", tmp_path)
    assert image_id(IMAGE_REF) == mine and image_id(offered_id) is None


def test_kit_clean_removes_only_kit_tags_that_still_name_the_kit_s_image(attendee, images, capsys):  # noqa: F811
    """Manifest entries as an unguarded import recorded them: one for a user's tag (its id the
    image it names now), one for a kit tag since moved to another image, one the kit's own."""
    user_id = images(USER_REF, "the user's own")
    moved_to = images(IMAGE_REF, "made here under the kit's name")
    kit_id = images("wasm-lab-kit/sectest-other:v1", "the kit's own")
    for name, ref, recorded in (("user", USER_REF, user_id), ("moved", IMAGE_REF, "sha256:" + "0" * 64),
                                ("own", "wasm-lab-kit/sectest-other:v1", kit_id)):
        attendee.record({"name": name, "kind": "image", "version": "v1", "key": "0" * 64,
                         "image": {"ref": ref, "id": recorded}})
    removed = kit.clean(attendee)
    assert image_id(USER_REF) == user_id and image_id(IMAGE_REF) == moved_to
    assert image_id("wasm-lab-kit/sectest-other:v1") is None and "wasm-lab-kit/sectest-other:v1" in removed
    err = capsys.readouterr().err
    assert f"kit.clean: left {USER_REF} alone: not a kit tag" in err
    assert f"kit.clean: left {IMAGE_REF} alone: not a kit tag, or it names another image" in err
