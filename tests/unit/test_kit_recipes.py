"""The kit framework on small recipes of the tests' own (files recipes run on the host, for real)."""
import json
import re

import pytest

from lab import kit
from lab.errors import LabError
from lab.kit import recipes as kit_recipes
from lab.kit.recipes import RecipeError, build_order, load_recipes, render
from lab.kit.store import ChecksumMismatch, KitStore


def write_recipe(root, name, text, files=None):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "recipe.yaml").write_text(text)
    for filename, content in (files or {}).items():
        (folder / filename).write_text(content)
    return folder


@pytest.fixture
def recipe_root(tmp_path, monkeypatch):
    root = tmp_path / "recipes"
    root.mkdir()
    (root / "versions.yaml").write_text('tool: "1.2.3"\nother-tool: "4"\n')
    monkeypatch.setattr(kit_recipes, "RECIPES_DIR", root)
    monkeypatch.setattr(kit_recipes, "VERSIONS_FILE", root / "versions.yaml")
    monkeypatch.setattr(kit, "load_recipes", lambda: load_recipes(root))
    monkeypatch.setattr(kit, "load_versions", lambda: kit_recipes.load_versions(root / "versions.yaml"))
    return root


def test_the_repository_recipes_load_and_order():
    recipes = load_recipes()
    order = [r.name for r in build_order(recipes)]
    for recipe in recipes.values():
        for need in recipe.needs:
            assert order.index(need) < order.index(recipe.name)


def test_render_versions_images_and_dirs():
    values = {"other-tool": "4", "image:debian-trixie": "wasm-lab-kit/debian-trixie:trixie"}
    assert render("v{other-tool}/{other_tool}", values) == "v4/4"
    assert render("{image:debian-trixie}", values) == "wasm-lab-kit/debian-trixie:trixie"
    with pytest.raises(RecipeError, match="unknown value"):
        render("{missing}", values)


def test_bad_recipes_are_refused(recipe_root):
    write_recipe(recipe_root, "a", "name: b\nkind: files\nrun: [true]\n")
    with pytest.raises(RecipeError, match="name must be 'a'"):
        load_recipes(recipe_root)


def test_cycles_and_unknown_needs(recipe_root):
    write_recipe(recipe_root, "a", "name: a\nkind: files\nrun: [true]\nneeds: [b]\n")
    write_recipe(recipe_root, "b", "name: b\nkind: files\nrun: [true]\nneeds: [a]\n")
    with pytest.raises(RecipeError, match="cycle"):
        build_order(load_recipes(recipe_root))
    with pytest.raises(RecipeError, match="unknown kit artifact 'zzz'"):
        build_order(load_recipes(recipe_root), ["zzz"])


SCRIPT = 'mkdir -p "$KIT_OUT/bin" && echo "tool $KIT_VERSION_TOOL" > "$KIT_OUT/bin/tool" && date +%s%N >> "$KIT_CACHE/runs"\n'


def test_files_recipe_builds_once_then_is_cached(recipe_root, tmp_path):
    write_recipe(recipe_root, "tool", "name: tool\nkind: files\nversion: 'v{tool}'\nversions: [tool]\n"
                 "run: [sh, build.sh]\n", {"build.sh": SCRIPT})
    store = KitStore(tmp_path / "kit")
    first = kit.build(["tool"], store=store)
    assert [r["action"] for r in first] == ["built"]
    entry = kit.artifact("tool", store=store)
    assert entry["version"] == "v1.2.3"
    assert (tmp_path / "kit" / "artifacts" / "tool").is_dir()
    assert (store.verified_path("tool") / "bin/tool").read_text() == "tool 1.2.3\n"
    assert [r["action"] for r in kit.build(["tool"], store=store)] == ["cached"]
    assert len((store.cache_dir("tool") / "runs").read_text().split()) == 1
    manifest = json.loads(store.manifest_path.read_text())
    assert manifest["schema"] == 1 and "bin/tool" in manifest["artifacts"]["tool"]["files"]


def test_changed_recipe_or_version_rebuilds(recipe_root, tmp_path):
    folder = write_recipe(recipe_root, "tool", "name: tool\nkind: files\nversions: [tool]\nrun: [sh, build.sh]\n",
                          {"build.sh": SCRIPT})
    store = KitStore(tmp_path / "kit")
    kit.build(["tool"], store=store)
    (folder / "build.sh").write_text(SCRIPT + "true\n")
    assert [r["action"] for r in kit.build(["tool"], store=store)] == ["built"]
    (recipe_root / "versions.yaml").write_text('tool: "1.2.4"\nother-tool: "4"\n')
    assert [r["action"] for r in kit.build(["tool"], store=store)] == ["built"]
    assert [r["state"] for r in kit.status(store=store)] == ["built"]


def test_tampered_output_is_detected_and_rebuilt(recipe_root, tmp_path):
    write_recipe(recipe_root, "tool", "name: tool\nkind: files\nversions: [tool]\nrun: [sh, build.sh]\n",
                 {"build.sh": SCRIPT})
    store = KitStore(tmp_path / "kit")
    kit.build(["tool"], store=store)
    (store.verified_path("tool") / "bin/tool").write_text("evil\n")
    with pytest.raises(ChecksumMismatch, match="bin/tool has sha256"):
        kit.artifact("tool", store=store)
    assert [r["action"] for r in kit.build(["tool"], store=store)] == ["built"]


def test_failed_build_records_nothing_and_keeps_the_log(recipe_root, tmp_path):
    write_recipe(recipe_root, "tool", "name: tool\nkind: files\nrun: [sh, -c, 'echo boom; exit 3']\n")
    store = KitStore(tmp_path / "kit")
    with pytest.raises(Exception, match="exited 3"):
        kit.build(["tool"], store=store)
    assert store.entry("tool") is None
    assert "boom" in store.log_path("tool").read_text()


def test_needs_see_each_others_outputs(recipe_root, tmp_path):
    write_recipe(recipe_root, "base", "name: base\nkind: files\nrun: [sh, -c, 'echo base > $KIT_OUT/base.txt']\n")
    write_recipe(recipe_root, "top", "name: top\nkind: files\nneeds: [base]\n"
                 "run: [sh, -c, 'cat $KIT_DIR_BASE/base.txt > $KIT_OUT/top.txt']\n")
    store = KitStore(tmp_path / "kit")
    assert [r["name"] for r in kit.build(["top"], store=store)] == ["base", "top"]
    assert (store.verified_path("top") / "top.txt").read_text() == "base\n"



def test_a_build_waits_while_another_holds_the_artifact(recipe_root, tmp_path):
    import threading

    write_recipe(recipe_root, "tool", "name: tool\nkind: files\nversions: [tool]\nrun: [sh, build.sh]\n",
                 {"build.sh": SCRIPT})
    store = KitStore(tmp_path / "kit")
    rows = []
    second = threading.Thread(target=lambda: rows.extend(kit.build(["tool"], store=store)))
    with store.lock("tool"):  # as another process building it would
        second.start()
        second.join(1.0)
        assert second.is_alive() and store.entry("tool") is None
    second.join(30)
    assert [r["action"] for r in rows] == ["built"]


def test_go_recipes_verify_every_module_against_a_committed_go_sum():
    """A Go recipe builds either `go install pkg@version` (the module's own go.sum, the module
    checked against sum.golang.org) or a wrapper module whose go.mod/go.sum are committed and used
    read-only; the checksum database is never switched off wholesale."""
    root = kit_recipes.RECIPES_DIR
    go_recipes = [p.parent for p in root.glob("*/build.sh") if '"$GO"' in p.read_text()]
    assert len(go_recipes) >= 5
    for recipe in go_recipes:
        script = (recipe / "build.sh").read_text()
        assert "GOSUMDB=off" not in script, recipe.name
        own_module = recipe / "src" / "go.mod"
        if '"$GO" install' in script or (own_module.is_file() and "require" not in own_module.read_text()):
            continue  # the module's own go.sum, or the standard library only
        assert "-mod=readonly" in script, recipe.name
        for module in sorted(recipe.glob("module*")):
            assert (module / "go.sum").stat().st_size > 0 and (module / "go.mod").is_file(), module
        assert list(recipe.glob("module*/go.sum")), f"{recipe.name}: no committed go.sum"


def test_only_recipes_that_must_be_built_ask_for_host_tools(monkeypatch):
    """A user without root whose kit is built needs nothing; one whose rootfs must be built is told
    in one line (debootstrap needs root). FAKE recipes: only kind and name matter here."""
    from types import SimpleNamespace as NS

    monkeypatch.setattr(kit.os, "geteuid", lambda: 1000)
    ran = []
    monkeypatch.setattr(kit, "run", lambda argv, **kw: ran.append(argv))
    rootfs = kit.Planned(NS(name="debian-trixie", kind="rootfs"), "k", "trixie")
    kit._ensure_host_tools([])
    with pytest.raises(RecipeError, match="^building debian-trixie \\(debootstrap\\) needs root"):
        kit._ensure_host_tools([rootfs])
    assert ran == []


def test_a_current_artifact_needs_nothing_built_below_it(recipe_root, tmp_path):
    """As after a bundle import: `top` is current while `base`, which it was made from, is absent."""
    write_recipe(recipe_root, "base", "name: base\nkind: files\nrun: [sh, -c, 'echo base > $KIT_OUT/base.txt']\n")
    write_recipe(recipe_root, "top", "name: top\nkind: files\nneeds: [base]\n"
                 "run: [sh, -c, 'cat $KIT_DIR_BASE/base.txt > $KIT_OUT/top.txt']\n")
    store = KitStore(tmp_path / "kit")
    kit.build(["top"], store=store)
    store.forget("base")
    assert [(r["name"], r["action"]) for r in kit.build(["top"], store=store)] == [("top", "cached")]
    assert [(r["name"], r["action"]) for r in kit.build(["base", "top"], store=store)] == [("base", "built"),
                                                                                        ("top", "cached")]
    store.forget("base")
    assert [(r["name"], r["action"]) for r in kit.build(["top"], store=store, force=True)] == [("base", "built"),
                                                                                            ("top", "built")]


def test_an_artifact_of_an_older_recipe_or_version_is_stale_until_rebuilt(recipe_root, tmp_path):
    folder = write_recipe(recipe_root, "tool", "name: tool\nkind: files\nversions: [tool]\nrun: [sh, build.sh]\n",
                          {"build.sh": SCRIPT})
    store = KitStore(tmp_path / "kit")
    kit.build(["tool"], store=store)
    (folder / "build.sh").write_text(SCRIPT + "true\n")
    with pytest.raises(kit.StaleArtifact, match="'tool' is stale.*invoke kit.build --only tool"):
        kit.artifact("tool", store=store)
    kit.build(["tool"], store=store)
    assert kit.artifact("tool", store=store)["key"] == kit.plan(["tool"])[0].key
    (recipe_root / "versions.yaml").write_text('tool: "1.2.4"\nother-tool: "4"\n')
    with pytest.raises(kit.StaleArtifact):
        kit.artifact("tool", store=store)


def test_a_failed_build_says_in_its_first_line_which_recipe_and_where_its_log_is(recipe_root, tmp_path):
    write_recipe(recipe_root, "tool", "name: tool\nkind: files\nrun: [sh, -c, 'echo boom; exit 3']\n")
    store = KitStore(tmp_path / "kit")
    with pytest.raises(LabError) as failed:
        kit.build(["tool"], store=store)
    first, *rest = str(failed.value).splitlines()
    assert first == f"kit recipe tool failed (sh exited 3); its log: {store.log_path('tool')}"
    assert "boom" in rest


@pytest.mark.parametrize("content, why", [
    ('{"artifacts": [', "JSONDecodeError"),
    ("[]", "not an object with an `artifacts` object"),
    ('{"schema": 1, "artifacts": []}', "not an object with an `artifacts` object"),
    ('{"schema": 999, "artifacts": {}}', "schema 999"),
])
def test_an_unusable_kit_manifest_is_one_line_naming_it(tmp_path, content, why):
    store = KitStore(tmp_path)
    store.manifest_path.write_text(content)
    with pytest.raises(LabError, match=re.escape(f"kit manifest {store.manifest_path} is unusable (") + ".*"
                       + re.escape(why)):
        kit.status(store)


def test_an_image_artifact_whose_image_is_gone_is_stale(recipe_root, tmp_path, monkeypatch):
    """A FAKE Docker answer (builders.image_present): the manifest still lists the image, Docker no longer has it."""
    write_recipe(recipe_root, "tool", "name: tool\nkind: files\nversions: [tool]\nrun: [sh, build.sh]\n",
                 {"build.sh": SCRIPT})
    store = KitStore(tmp_path / "kit")
    image = {"ref": "wasm-lab-kit/tool:1.2.3", "id": "sha256:" + "0" * 64}
    store.record({"name": "tool", "key": kit.plan(["tool"])[0].key, "image": image})
    present = {"answer": True}
    monkeypatch.setattr(kit.builders, "image_present", lambda ref, image_id: present["answer"])
    assert kit.artifact("tool", store=store)["image"] == image
    present["answer"] = False
    with pytest.raises(kit.StaleArtifact, match="image wasm-lab-kit/tool:1.2.3 is gone or is another image now"):
        kit.artifact("tool", store=store)
