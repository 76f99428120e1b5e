"""Unit tests for lab.containerd: planning containerd config edits for wasm runtimes."""
from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from lab.containerd import (
    ConfigError,
    RuntimeEntry,
    config_version,
    dump_has_runtime,
    plan_install,
    plan_uninstall,
    registry_hosts_dirs,
    runtimes_path,
    systemd_cgroup,
)
from tests import machine_limits
from tests.machine_limits import require

FIXTURES = Path(__file__).parent / "fixtures" / "containerd"
MAIN = "/etc/containerd/config.toml"
CONF_D = "/etc/containerd/conf.d"

WASMEDGE = RuntimeEntry("wasmedge", "io.containerd.wasmedge.v1", {})
WASMTIME = RuntimeEntry("wasmtime", "io.containerd.wasmtime.v1", {})
CRUN = RuntimeEntry(
    "crun-wasmedge",
    "io.containerd.runc.v2",
    {"BinaryName": "/usr/local/bin/crun"},
    ("module.wasm.image/variant",),
)
ENTRIES = [WASMEDGE, WASMTIME, CRUN]

# fixture name -> (version, runc SystemdCgroup, edited in place?)
FIXTURE_FACTS = {
    "kind-v2.toml": (2, True, True),
    "kind-v3.toml": (3, True, True),
    "minikube-v2.toml": (2, False, True),
    "v4-confd.toml": (4, True, False),
}


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def apply(files: dict[str, str], plan: dict) -> dict[str, str]:
    """What the caller does with a plan: write the texts, delete the Nones."""
    out = dict(files)
    for path, text in plan.items():
        if text is None:
            out.pop(path, None)
        else:
            out[path] = text
    return out


def install(files: dict[str, str], entry: RuntimeEntry) -> dict[str, str]:
    drop_ins = {p: t for p, t in files.items() if p != MAIN}
    return apply(files, plan_install(MAIN, files[MAIN], entry, drop_ins))


def uninstall(files: dict[str, str], handler: str) -> dict[str, str]:
    drop_ins = {p: t for p, t in files.items() if p != MAIN}
    return apply(files, plan_uninstall(MAIN, files[MAIN], handler, drop_ins))


def runtime_in(text: str, version: int, handler: str):
    node = tomllib.loads(text)
    for key in runtimes_path(version) + (handler,):
        node = node.get(key) if isinstance(node, dict) else None
    return node


# ------------------------------------------------------------------ version detection


@pytest.mark.parametrize("name", sorted(FIXTURE_FACTS))
def test_config_version_of_each_fixture(name):
    assert config_version(read(name)) == FIXTURE_FACTS[name][0]


def test_runtimes_path_per_version():
    assert runtimes_path(2) == ("plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes")
    assert runtimes_path(3) == ("plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes")
    assert runtimes_path(4) == runtimes_path(3)
    with pytest.raises(ConfigError, match="unknown containerd config version 5"):
        runtimes_path(5)


def test_version_1_config_is_refused_with_a_clear_message():
    with pytest.raises(ConfigError, match="containerd config version 1 is not supported"):
        config_version(read("v1-legacy.toml"))
    with pytest.raises(ConfigError, match="version 1 is not supported"):
        plan_install(MAIN, read("v1-legacy.toml"), WASMEDGE)
    with pytest.raises(ConfigError, match="version 1 is not supported"):
        config_version("version = 1\n")


def test_garbage_and_odd_versions_are_config_errors():
    with pytest.raises(ConfigError, match=r"/etc/containerd/config.toml: not valid TOML"):
        plan_install(MAIN, "version = 2\n[plugins\nthis is not toml", WASMEDGE)
    with pytest.raises(ConfigError, match="not valid TOML"):
        config_version("\x00\x01 = = =")
    with pytest.raises(ConfigError, match="unknown containerd config version 7"):
        config_version("version = 7\n")
    with pytest.raises(ConfigError, match="must be an integer"):
        config_version('version = "2"\n')
    with pytest.raises(ConfigError, match=r"conf.d/bad.toml: not valid TOML"):
        plan_install(MAIN, read("v4-confd.toml"), WASMEDGE, {f"{CONF_D}/bad.toml": "[oops"})
    assert issubclass(ConfigError, ValueError)


def test_runtime_entry_validates_handler():
    with pytest.raises(ValueError, match="DNS label"):
        RuntimeEntry("Wasm_Edge", "io.containerd.wasmedge.v1", {})
    with pytest.raises(ValueError, match="DNS label"):
        RuntimeEntry("../evil", "io.containerd.wasmedge.v1", {})
    with pytest.raises(ValueError, match="runtime_type"):
        RuntimeEntry("wasmedge", "", {})
    assert RuntimeEntry("crun", "io.containerd.runc.v2", {}, ["a"]).pod_annotations == ("a",)


# ------------------------------------------------------------------ systemd cgroup


@pytest.mark.parametrize("name", sorted(FIXTURE_FACTS))
def test_systemd_cgroup_of_each_fixture(name):
    assert systemd_cgroup(read(name)) is FIXTURE_FACTS[name][1]


def test_systemd_cgroup_follows_the_default_runc_runtime():
    text = (
        "version = 2\n"
        '[plugins."io.containerd.grpc.v1.cri".containerd]\n'
        '  default_runtime_name = "runc-systemd"\n'
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
        "  SystemdCgroup = false\n"
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc-systemd]\n'
        '  runtime_type = "io.containerd.runc.v2"\n'
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc-systemd.options]\n'
        "  SystemdCgroup = true\n"
    )
    assert systemd_cgroup(text) is True
    # unset means false
    assert systemd_cgroup("version = 3\n") is False


def test_systemd_cgroup_reads_runc_settings_from_drop_ins():
    main = "version = 3\nimports = ['conf.d/*.toml']\n"
    drop = (
        "version = 3\n"
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n"
        "SystemdCgroup = true\n"
    )
    assert systemd_cgroup(main) is False
    assert systemd_cgroup(main, {f"{CONF_D}/10-systemd.toml": drop}) is True


@pytest.mark.parametrize("name", sorted(FIXTURE_FACTS))
def test_wasm_runtime_gets_runc_systemd_cgroup(name):
    version, systemd, _ = FIXTURE_FACTS[name]
    files = install({MAIN: read(name)}, WASMTIME)
    texts = "".join(files.values())
    runtime = runtime_in(files[MAIN] if len(files) == 1 else files[f"{CONF_D}/wasm-lab-wasmtime.toml"],
                         version, "wasmtime")
    assert runtime["options"]["SystemdCgroup"] is systemd
    assert texts.count("SystemdCgroup = %s" % str(systemd).lower()) >= 1


def test_caller_set_systemd_cgroup_wins():
    entry = RuntimeEntry("wasmedge", "io.containerd.wasmedge.v1", {"SystemdCgroup": False})
    plan = plan_install(MAIN, read("kind-v2.toml"), entry)
    assert runtime_in(plan[MAIN], 2, "wasmedge")["options"] == {"SystemdCgroup": False}


# ------------------------------------------------------------------ install, round trip


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.handler)
@pytest.mark.parametrize("name", [n for n, f in FIXTURE_FACTS.items() if f[2]])
def test_in_place_install_only_appends_the_runtime(name, entry):
    original = read(name)
    version = FIXTURE_FACTS[name][0]
    plan = plan_install(MAIN, original, entry)
    assert list(plan) == [MAIN]
    new = plan[MAIN]
    # every original byte is kept, in order; the lab only appends its marked block
    assert new.startswith(original)
    added = new[len(original):].splitlines()
    assert added[0] == ""
    assert added[1].startswith(f'# managed by wasm-lab: runtime "{entry.handler}" (begin')
    assert added[-1] == f'# managed by wasm-lab: runtime "{entry.handler}" (end)'
    cri = "io.containerd.grpc.v1.cri" if version == 2 else "io.containerd.cri.v1.runtime"
    header = f'[plugins."{cri}".containerd.runtimes.{entry.handler}]'
    body = [line.strip() for line in added[2:-1]]
    expected = [header, f'runtime_type = "{entry.runtime_type}"']
    if entry.pod_annotations:
        expected.append('pod_annotations = ["module.wasm.image/variant"]')
    expected.append(header[:-1] + ".options]")
    expected += [f'{k} = "{v}"' for k, v in entry.options.items()]
    expected.append(f"SystemdCgroup = {str(FIXTURE_FACTS[name][1]).lower()}")
    assert body == expected
    # the parsed config is the original plus exactly one runtime
    before, after = tomllib.loads(original), tomllib.loads(new)
    runtimes = after
    for key in runtimes_path(version):
        runtimes = runtimes[key]
    runtime = runtimes.pop(entry.handler)
    assert after == before
    assert runtime["runtime_type"] == entry.runtime_type
    assert runtime.get("pod_annotations", []) == list(entry.pod_annotations)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.handler)
@pytest.mark.parametrize("name", sorted(FIXTURE_FACTS))
def test_install_is_idempotent_and_uninstall_restores_bytes(name, entry):
    original = {MAIN: read(name)}
    once = install(original, entry)
    assert once != original
    drop_ins = {p: t for p, t in once.items() if p != MAIN}
    assert plan_install(MAIN, once[MAIN], entry, drop_ins) == {}
    back = uninstall(once, entry.handler)
    assert back == original
    assert back[MAIN] == original[MAIN]  # byte for byte
    # nothing left to undo
    assert plan_uninstall(MAIN, back[MAIN], entry.handler, {}) == {}


@pytest.mark.parametrize("name", sorted(FIXTURE_FACTS))
def test_three_runtimes_install_and_uninstall_in_any_order(name):
    original = {MAIN: read(name)}
    files = original
    for entry in ENTRIES:
        files = install(files, entry)
    for entry in ENTRIES:
        drop_ins = {p: t for p, t in files.items() if p != MAIN}
        assert plan_install(MAIN, files[MAIN], entry, drop_ins) == {}
    for order in ([WASMTIME, CRUN, WASMEDGE], [CRUN, WASMEDGE, WASMTIME]):
        current = files
        for entry in order:
            current = uninstall(current, entry.handler)
        assert current == original, order


def test_plan_is_empty_when_the_user_already_configured_it_identically():
    text = read("kind-v2.toml") + (
        '\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmedge]\n'
        '  runtime_type = "io.containerd.wasmedge.v1"\n'
        '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmedge.options]\n'
        "    SystemdCgroup = true\n"
    )
    assert plan_install(MAIN, text, WASMEDGE) == {}
    # and uninstall leaves a runtime the lab did not write alone
    assert plan_uninstall(MAIN, text, "wasmedge") == {}


def test_managed_block_is_rewritten_in_place_when_settings_change():
    # minikube restarts with the systemd driver: runc flips, the lab's block must follow
    original = read("minikube-v2.toml")
    installed = install({MAIN: original}, CRUN)[MAIN]
    flipped = installed.replace("SystemdCgroup = false\n\n", "SystemdCgroup = true\n\n", 1)
    assert systemd_cgroup(flipped) is True
    plan = plan_install(MAIN, flipped, CRUN)
    new = plan[MAIN]
    assert runtime_in(new, 2, "crun-wasmedge")["options"]["SystemdCgroup"] is True
    assert new.count("managed by wasm-lab: runtime \"crun-wasmedge\" (begin") == 1
    assert plan_install(MAIN, new, CRUN) == {}
    restored = apply({MAIN: new}, plan_uninstall(MAIN, new, "crun-wasmedge"))[MAIN]
    assert restored == original.replace("SystemdCgroup = false\n", "SystemdCgroup = true\n", 1)


def test_minikube_rewrite_removes_block_and_install_reapplies():
    original = read("minikube-v2.toml")
    first = plan_install(MAIN, original, WASMEDGE)
    # minikube writes its own config again on start: the lab's block is gone, plan again
    assert plan_install(MAIN, original, WASMEDGE) == first


def test_file_without_trailing_newline_round_trips():
    original = read("kind-v2.toml").rstrip("\n")
    files = install({MAIN: original}, WASMEDGE)
    assert runtime_in(files[MAIN], 2, "wasmedge")["runtime_type"] == "io.containerd.wasmedge.v1"
    assert plan_install(MAIN, files[MAIN], WASMEDGE) == {}
    assert uninstall(files, "wasmedge")[MAIN] == original


def test_user_edits_after_the_block_survive_uninstall():
    original = read("kind-v3.toml")
    installed = install({MAIN: original}, WASMEDGE)[MAIN]
    later = "\n# added by an admin later\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n"
    edited = installed + later
    restored = plan_uninstall(MAIN, edited, "wasmedge")[MAIN]
    assert restored == original + later


def test_damaged_marker_is_an_error():
    installed = install({MAIN: read("kind-v2.toml")}, WASMEDGE)[MAIN]
    damaged = installed.replace('# managed by wasm-lab: runtime "wasmedge" (end)\n', "")
    with pytest.raises(ConfigError, match='wasm-lab block for runtime "wasmedge" has lost its end marker'):
        plan_uninstall(MAIN, damaged, "wasmedge")


# ------------------------------------------------------------------ refusing user runtimes


def test_refuses_to_overwrite_a_user_runtime_with_another_type():
    text = read("kind-v2.toml") + (
        '\n# the admin runs wasmedge through runc here\n'
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmedge]\n'
        '  runtime_type = "io.containerd.runc.v2"\n'
    )
    with pytest.raises(ConfigError) as info:
        plan_install(MAIN, text, WASMEDGE)
    message = str(info.value)
    assert '"wasmedge"' in message and MAIN in message
    assert "io.containerd.runc.v2" in message and "refusing to overwrite" in message


def test_refuses_a_user_runtime_of_the_same_type_with_other_options():
    text = read("kind-v3.toml") + (
        '\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.wasmedge]\n'
        '  runtime_type = "io.containerd.wasmedge.v1"\n'
    )
    # kind's runc uses systemd cgroups; this runtime does not, and the lab did not write it
    with pytest.raises(ConfigError, match=r'runtime "wasmedge" exists but wasm-lab did not write it.*SystemdCgroup'):
        plan_install(MAIN, text, WASMEDGE)


def test_refuses_a_user_runtime_in_another_drop_in():
    user = f"{CONF_D}/50-user.toml"
    drop = (
        "version = 4\n"
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.wasmtime]\n"
        "runtime_type = '/opt/bin/containerd-shim-wasmtime-v1'\n"
    )
    with pytest.raises(ConfigError) as info:
        plan_install(MAIN, read("v4-confd.toml"), WASMTIME, {user: drop})
    assert user in str(info.value) and '"wasmtime"' in str(info.value)


# ------------------------------------------------------------------ drop-in mode


def test_v4_writes_a_drop_in_with_the_root_version():
    plan = plan_install(MAIN, read("v4-confd.toml"), CRUN, {})
    path = f"{CONF_D}/wasm-lab-crun-wasmedge.toml"
    assert list(plan) == [path]  # the main file already imports conf.d: untouched
    data = tomllib.loads(plan[path])
    assert data["version"] == 4
    runtime = runtime_in(plan[path], 4, "crun-wasmedge")
    assert runtime == {
        "runtime_type": "io.containerd.runc.v2",
        "pod_annotations": ["module.wasm.image/variant"],
        "options": {"BinaryName": "/usr/local/bin/crun", "SystemdCgroup": True},
    }
    # only the runtime, nothing that would replace other CRI settings
    assert set(data) == {"version", "plugins"}
    assert plan[path].startswith("# managed by wasm-lab")


def test_v4_drop_in_is_rewritten_when_the_user_edited_it():
    path = f"{CONF_D}/wasm-lab-wasmedge.toml"
    first = plan_install(MAIN, read("v4-confd.toml"), WASMEDGE, {})
    edited = first[path].replace("SystemdCgroup = true", "SystemdCgroup = false")
    again = plan_install(MAIN, read("v4-confd.toml"), WASMEDGE, {path: edited})
    assert again == first


def test_v4_without_imports_gets_the_conf_d_import_and_loses_it_on_uninstall():
    original = read("v4-confd.toml").replace("imports = ['/etc/containerd/conf.d/*.toml']\n", "")
    assert "imports" not in original
    files = install({MAIN: original}, WASMEDGE)
    assert set(files) == {MAIN, f"{CONF_D}/wasm-lab-wasmedge.toml"}
    assert tomllib.loads(files[MAIN])["imports"] == [f"{CONF_D}/*.toml"]
    # apart from the import and its marker, the main file is unchanged
    added = [line for line in files[MAIN].splitlines() if line not in original.splitlines()]
    assert len(added) == 2 and added[0].startswith("# managed by wasm-lab: conf.d import")
    files = install(files, WASMTIME)
    assert plan_install(MAIN, files[MAIN], WASMTIME, {p: t for p, t in files.items() if p != MAIN}) == {}
    files = uninstall(files, "wasmedge")
    assert tomllib.loads(files[MAIN])["imports"] == [f"{CONF_D}/*.toml"]  # wasmtime still needs it
    files = uninstall(files, "wasmtime")
    assert files == {MAIN: original}


def test_v4_single_line_imports_get_the_glob_appended_and_restored():
    original = read("v4-confd.toml").replace(
        "imports = ['/etc/containerd/conf.d/*.toml']", "imports = ['/etc/containerd/extra.toml']  # site"
    )
    files = install({MAIN: original}, WASMEDGE)
    assert tomllib.loads(files[MAIN])["imports"] == ["/etc/containerd/extra.toml", f"{CONF_D}/*.toml"]
    assert uninstall(files, "wasmedge") == {MAIN: original}


def test_multi_line_imports_are_left_to_the_user():
    original = read("v4-confd.toml").replace(
        "imports = ['/etc/containerd/conf.d/*.toml']", "imports = [\n  '/etc/containerd/extra.toml',\n]"
    )
    with pytest.raises(ConfigError, match="spans several lines"):
        plan_install(MAIN, original, WASMEDGE)


def test_v3_with_a_conf_d_glob_uses_a_drop_in_relative_to_the_main_file():
    original = read("kind-v3.toml").replace("version = 3\n", "version = 3\nimports = [\"conf.d/*.toml\"]\n")
    plan = plan_install(MAIN, original, WASMEDGE, {})
    assert list(plan) == [f"{CONF_D}/wasm-lab-wasmedge.toml"]
    assert tomllib.loads(plan[f"{CONF_D}/wasm-lab-wasmedge.toml"])["version"] == 3


def test_v2_with_a_conf_d_glob_is_still_edited_in_place():
    # containerd 1.x replaces a plugin's whole section with an imported one: a drop-in
    # would erase kind's runc settings, so version 2 never gets one
    original = read("kind-v2.toml").replace("version = 2\n", "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n")
    plan = plan_install(MAIN, original, WASMEDGE, {})
    assert list(plan) == [MAIN] and plan[MAIN].startswith(original)


def test_uninstall_without_drop_in_listing_deletes_the_lab_file():
    plan = plan_uninstall(MAIN, read("v4-confd.toml"), "wasmedge")
    assert plan == {f"{CONF_D}/wasm-lab-wasmedge.toml": None}
    assert plan_uninstall(MAIN, read("v4-confd.toml"), "wasmedge", {f"{CONF_D}/50-user.toml": "version = 4\n"}) == {}


# ------------------------------------------------------------------ config dump


def _dump(version: int, runtime_lines: str) -> str:
    cri = "io.containerd.grpc.v1.cri" if version == 2 else "io.containerd.cri.v1.runtime"
    return (
        f"version = {version}\nroot = \"/var/lib/containerd\"\n\n[plugins]\n"
        f'  [plugins."{cri}".containerd.runtimes.runc]\n    runtime_type = "io.containerd.runc.v2"\n'
        + runtime_lines.replace("CRI", cri)
    )


def test_dump_has_runtime_reads_both_plugin_names():
    crun = (
        '  [plugins."CRI".containerd.runtimes.crun-wasmedge]\n'
        '    runtime_type = "io.containerd.runc.v2"\n'
        '    pod_annotations = ["module.wasm.image/variant", "other"]\n'
    )
    for version in (2, 3):
        assert dump_has_runtime(_dump(version, crun), CRUN)
        assert not dump_has_runtime(_dump(version, crun), WASMEDGE)
    # the wrong plugin name for the version does not count: containerd ignored it
    wrong = _dump(3, crun).replace("io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri")
    assert not dump_has_runtime(wrong, CRUN)


def test_dump_has_runtime_checks_type_and_pod_annotations():
    no_annotations = '  [plugins."CRI".containerd.runtimes.crun-wasmedge]\n    runtime_type = "io.containerd.runc.v2"\n    pod_annotations = []\n'
    assert not dump_has_runtime(_dump(2, no_annotations), CRUN)
    other_type = '  [plugins."CRI".containerd.runtimes.wasmedge]\n    runtime_type = "io.containerd.runc.v2"\n'
    assert not dump_has_runtime(_dump(3, other_type), WASMEDGE)
    with pytest.raises(ConfigError, match="not valid TOML"):
        dump_has_runtime("time=... level=fatal msg=\"failed\"", WASMEDGE)


UNKNOWN_KEY = re.compile(r'Ignoring unknown key in TOML.*?key=(\S+) plugin=(\S+)')


def containerd_reading(version: int) -> list[str]:
    """The containerd that can read a config of `version`, as an argv prefix: the host's, or where
    the host's is older than 2.0 and the config is version 3, the containerd 2.x of the kit's
    node-containerd2 image (the one kind nodes run), in a container with the config's folder."""
    require("containerd")
    if version < 3 or machine_limits.containerd_version() >= (2, 0, 0):
        return ["containerd"]
    require("docker")
    from tests.conftest import kit_artifact_or_skip

    image = kit_artifact_or_skip("node-containerd2")["image"]["ref"]
    return ["docker", "run", "--rm", "--pull", "never", "--network", "none", "--entrypoint", "containerd",
            "-v", "{folder}:{folder}:ro",
            image]


@pytest.mark.parametrize("entry", [WASMEDGE, CRUN], ids=lambda e: e.handler)
@pytest.mark.parametrize("name", ["kind-v2.toml", "minikube-v2.toml", "kind-v3.toml"])
def test_real_containerd_config_dump_sees_the_runtime(tmp_path, name, entry):
    containerd = [arg.format(folder=tmp_path) for arg in containerd_reading(FIXTURE_FACTS[name][0])]
    config = tmp_path / "config.toml"
    original = read(name)

    def dump(text: str) -> tuple[str, set[str]]:
        """The dump, and the keys this containerd ignored as unknown (it says so only on stderr)."""
        config.write_text(text)
        result = subprocess.run(
            [*containerd, "--config", str(config), "config", "dump"],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout, set(UNKNOWN_KEY.findall(result.stderr))

    before, ignored_before = dump(original)
    assert not dump_has_runtime(before, entry)
    plan = plan_install(str(config), original, entry)
    after, ignored_after = dump(plan[str(config)])
    assert dump_has_runtime(after, entry)
    # a key the lab wrote under a name this containerd does not know is silently dropped
    assert ignored_after <= ignored_before, f"the install added keys containerd ignores: {ignored_after - ignored_before}"
    # and a whole table under a plugin it does not have is echoed back in the dump, never used:
    # the runtime must sit under a plugin this containerd's own default config has
    default = subprocess.run([*containerd, "config", "default"], capture_output=True, text=True, timeout=60)
    assert default.returncode == 0, default.stderr
    known = set(tomllib.loads(default.stdout)["plugins"])
    holders = [plugin for plugin, table in tomllib.loads(after)["plugins"].items()
               if entry.handler in table.get("containerd", {}).get("runtimes", {})]
    assert holders and set(holders) <= known, f"runtime {entry.handler} under {holders}, not among {sorted(known)}"


def test_odd_option_keys_and_values_are_rendered_as_valid_toml():
    entry = RuntimeEntry(
        "wasmtime", "io.containerd.wasmtime.v1",
        {"Nested": {"k": "v"}, "weird key": 1, "Path": 'C:\\odd "quoted"'},
    )
    original = read("kind-v2.toml")
    files = install({MAIN: original}, entry)
    assert runtime_in(files[MAIN], 2, "wasmtime")["options"] == {
        "Nested": {"k": "v"}, "weird key": 1, "Path": 'C:\\odd "quoted"', "SystemdCgroup": True,
    }
    assert plan_install(MAIN, files[MAIN], entry) == {}
    assert uninstall(files, "wasmtime") == {MAIN: original}


@pytest.mark.parametrize("version, plugin", [(2, "io.containerd.grpc.v1.cri"), (3, "io.containerd.cri.v1.images")])
def test_registry_hosts_dirs_reads_config_path_of_the_dumps_version(version, plugin):
    dump = f'version = {version}\n[plugins."{plugin}".registry]\n  config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"\n'
    assert registry_hosts_dirs(dump) == ["/etc/containerd/certs.d", "/etc/docker/certs.d"]


def test_registry_hosts_dirs_is_empty_without_config_path():
    assert registry_hosts_dirs('version = 3\n[plugins."io.containerd.cri.v1.images".registry]\n  config_path = ""\n') == []
    assert registry_hosts_dirs("version = 2\n") == []
