import pytest

from lab import spec
from lab.errors import InputError


def test_defaults_give_wasmedge_on_kind(empty_cwd):
    lab = spec.load()
    assert lab.provider == "kind"
    assert lab.runtimes == ("wasmedge",)
    assert lab.variants == ("native", "embed-wasmedge", "runtime-wasmedge", "embed-wasmedge-aot",
                            "runtime-wasmedge-aot", "artifact-wasmedge")


def test_runtimes_side_by_side_and_ports_fixed_per_variant(empty_cwd):
    lab = spec.load(overrides={"runtimes": ["crun-wasmedge", "wasmtime", "wasmtime"]})
    assert lab.runtimes == ("crun-wasmedge", "wasmtime")
    assert lab.variants == ("native", "embed-wasmtime", "runtime-wasmtime", "runtime-crun-wasmedge",
                            "runtime-crun-wasmedge-aot", "artifact-wasmtime")
    assert lab.host_port("native") == 30080
    assert lab.host_port("artifact-wasmtime") == 30090
    assert lab.host_port("runtime-crun-wasmedge") == 30085
    assert lab.host_port("runtime-crun-wasmedge-aot") == 30088


def test_artifact_variants_only_where_the_nodes_pull_from_a_registry(empty_cwd):
    """kind: the lab's own registry; existing: the one `registry` names; minikube: none."""
    def variants(**overrides):
        return spec.load(overrides={"runtimes": ["wasmtime"], **overrides}).variants
    assert "artifact-wasmtime" in variants()
    assert "artifact-wasmtime" not in variants(provider="minikube")
    assert "artifact-wasmtime" not in variants(provider="existing", context="ctx")
    assert "artifact-wasmtime" in variants(provider="existing", context="ctx", registry="localhost:5001")


def test_kind_nodes_pull_the_images_from_the_lab_registry_unless_told_to_load_them(empty_cwd):
    assert spec.load().pulls_images
    assert not spec.load(overrides={"image_delivery": "load"}).pulls_images
    assert not spec.load(overrides={"provider": "minikube"}).pulls_images


def test_lab_yaml_then_cli_override(empty_cwd):
    (empty_cwd / "lab.yaml").write_text("workers: 2\nname: team-a\n")
    lab = spec.load(overrides={"name": "team-b", "workers": None})
    assert (lab.name, lab.workers) == ("team-b", 2)


@pytest.mark.parametrize("overrides, field, allowed", [
    ({"runtimes": ["spin"]}, "runtime", "wasmedge, wasmtime, crun-wasmedge"),
    ({"provider": "k3d"}, "provider", "kind"),
    ({"offline": "maybe"}, "offline", "auto, true, false"),
])
def test_bad_choice_names_field_and_allowed_values(empty_cwd, overrides, field, allowed):
    with pytest.raises(InputError) as error:
        spec.load(overrides=overrides)
    assert str(error.value).startswith(f"{field}: ")
    assert allowed in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("overrides, field", [
    ({"workers": "two"}, "workers"),
    ({"workers": 9}, "workers"),
    ({"name": "Bad_Name"}, "name"),
    ({"kubernetes": "1.34"}, "kubernetes"),
    ({"host_port_base": 8080}, "host_port_base"),
])
def test_bad_values_name_the_field(empty_cwd, overrides, field):
    with pytest.raises(InputError, match=f"^{field}: "):
        spec.load(overrides=overrides)


def test_unknown_setting_in_lab_yaml(empty_cwd):
    (empty_cwd / "lab.yaml").write_text("runtime: wasmedge\n")
    with pytest.raises(InputError, match="^runtime: unknown setting"):
        spec.load()


def test_missing_and_malformed_config_files(empty_cwd):
    with pytest.raises(InputError, match="^config: .* does not exist"):
        spec.load("nope.yaml")
    (empty_cwd / "bad.yaml").write_text("- a list\n")
    with pytest.raises(InputError, match="^config: .* mapping"):
        spec.load("bad.yaml")


def test_offline_is_one_of_three_modes_read_from_the_words_users_give(empty_cwd):
    from lab.cli.common import mode_override
    from lab.spec import Offline

    assert spec.load().offline is Offline.AUTO
    # lab.yaml's values (a YAML boolean too) and the flags, unchanged
    for given, mode in ((True, Offline.KIT), ("true", Offline.KIT), (False, Offline.UPSTREAM),
                        ("false", Offline.UPSTREAM), ("auto", Offline.AUTO)):
        assert spec.load(overrides={"offline": given}).offline is mode
    assert (mode_override(True, False), mode_override(False, True), mode_override(False, False)) == \
        (Offline.KIT, Offline.UPSTREAM, None)
    assert spec.load(overrides={"offline": mode_override(True, False)}).offline is Offline.KIT
    with pytest.raises(InputError, match="^offline: 'never' is not allowed; choose one of: auto, true, false$"):
        spec.load(overrides={"offline": "never"})


def test_a_kit_bundle_means_offline(empty_cwd):
    (empty_cwd / "kit.tar").write_bytes(b"")
    assert spec.load(overrides={"kit_from": "http://192.168.1.10:8780"}).offline == "true"
    assert spec.load(overrides={"kit_from": str(empty_cwd / "kit.tar"), "offline": "true"}).offline == "true"
    assert spec.load().kit_from == "" and spec.load().offline == "auto"
    with pytest.raises(InputError, match="^kit_from: a kit bundle is the offline kit"):
        spec.load(overrides={"kit_from": "http://trainer:8780", "offline": "false"})
