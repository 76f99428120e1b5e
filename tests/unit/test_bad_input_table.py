"""Every kind of bad input, as a user meets it through the invoke command line: one line naming the
setting, exit status 2, nothing created (no state, no kit, no lock). Failures that are not the
user's input (a corrupt state file, Docker or an API server that does not answer) are one line with
exit status 1. Runs invoke's own Program in-process with the project's namespace."""
import json
import os
import uuid

import pytest
import yaml
from invoke import Program

import tasks
from lab import artifacts
from lab.artifacts.host import ARCHES

RUNWASI_V0_6_0_LOCK = yaml.safe_dump({"version": 1, "artifacts": {
    f"shim-wasmtime@{arch}": {"origin": "release", "version": "v0.6.0", "sha256": "a" * 64,
                              "source": artifacts.catalog()["artifacts"]["shim-wasmtime"][0]["url"].format(arch=arch)}
    for arch in ARCHES}})

BAD_INPUT = [
    # options
    (["lab.up", "--runtime", "spin"], "", "runtime: 'spin' is not allowed; choose one of"),
    (["lab.up", "--workers", "0"], "", "workers: 0 is outside 1..5"),
    (["lab.up", "--workers", "²"], "", "workers: '²' is not a whole number"),
    (["lab.up", "--workers", "9"], "", "workers: 9 is outside 1..5"),
    (["lab.up", "--name", "Upper"], "", "name: 'Upper' is not lower-case letters"),
    (["lab.up", "--provider", "docker"], "", "provider: 'docker' is not allowed; choose one of: kind, minikube, existing"),
    (["lab.up", "--provider", "existing"], "", "context: provider 'existing' needs --context NAME"),
    (["lab.up", "--offline", "--online"], "", "offline: --offline and --online exclude each other"),
    (["lab.up", "--mirror", "github.com"], "", "mirror: 'github.com' is not FROM=TO"),
    (["lab.up", "--mirror", "https://github.com=ftp://x"], "", "mirrors: https://github.com=ftp://x must map an http(s) URL"),
    (["lab.up", "--mirror", "docker.io=http://harbor"], "", "mirrors: docker.io=http://harbor must map a registry host"),
    (["lab.up", "--config", "missing.yaml"], "", "config: missing.yaml does not exist"),
    (["lab.up", "--config", "."], "", "config: . is a folder"),
    (["lab.plan", "--arch", "sparc"], "", "arch: 'sparc' is not allowed; choose one of: x86_64, aarch64"),
    (["images.build", "--variant", "nope"], "", "variant: 'nope' is not allowed; choose one of: native"),
    (["kit.build", "--only", "nonsense"], "", "unknown kit artifact 'nonsense'"),
    (["lab.bench", "--repeat", "0"], "", "repeat: 0 is outside 1..50"),
    (["lab.bench", "--repeat", "abc"], "", "repeat: 'abc' is not a whole number from 1 to 50"),
    (["kit.import", "http://[::1"], "", "source: 'http://[::1' is neither a bundle file nor an http(s) URL"),
    (["kit.import", "http://127.0.0.1:99999/"], "", "source: 'http://127.0.0.1:99999/' is neither a bundle file nor"),
    (["kit.serve", "--port", "abc"], "", "port: 'abc' is not a TCP port; give a whole number from 1 to 65535"),
    (["kit.serve", "--port", "70000"], "", "port: '70000' is not a TCP port"),
    (["lab.bench", "--requests", "many"], "", "requests: 'many' is not a whole number from 1 to 1000000"),
    (["lab.bench", "--duration", "soon"], "", "duration: 'soon' is not a number of seconds from 0 to 600"),
    (["lab.bench", "--quiet-wait", "a bit"], "", "quiet-wait: 'a bit' is not a number of seconds"),
    (["lab.up", "--kit-from", "nowhere.tar"], "", "kit_from: 'nowhere.tar' is neither a file nor an http(s) URL"),
    (["lab.up", "--kit-from", "http://trainer:8780", "--online"], "",
     "kit_from: a kit bundle is the offline kit; it cannot be used with --online"),
    (["kit.import", "nowhere.tar"], "", "kit bundle: nowhere.tar is not a file"),
    (["kit.import", "http://127.0.0.1:9/", "--sha256", "xyz"], "", "sha256: 'xyz' is neither a sha256 (64 hex digits) nor a fingerprint"),
    (["kit.export", "out.tar", "--only", "nonsense"], "", "only: 'nonsense' is not a kit artifact; choose from:"),
    (["kit.export", "out.tar", "--provider", "existing"], "", "provider: 'existing' is not allowed; choose one of: kind, minikube"),
    (["lab.docker-check", "--runtime", "crun-wasmedge"], "",
     "runtime: Docker's wasm runtime runs the containerd shims; choose one of: wasmedge, wasmtime"),
    # lab.yaml
    (["lab.up"], b"\xff\xfe not utf-8", "config: lab.yaml is not UTF-8 text"),
    (["lab.up"], "name: [unclosed", "config: lab.yaml is not valid YAML"),
    (["lab.up"], "- a\n- list\n", "config: lab.yaml must hold a mapping of settings"),
    (["lab.up"], "colour: blue\n", "colour: unknown setting; known settings:"),
    (["lab.up"], "workers: abc\n", "workers: 'abc' is not a whole number"),
    (["lab.up"], "workers: true\n", "workers: True is not a whole number"),
    (["lab.up"], "runtimes: []\n", "runtimes: give at least one of"),
    (["lab.up"], "runtimes: 5\n", "runtimes: give at least one of"),
    (["lab.up"], "host_port_base: 80\n", "host_port_base: 80 is outside 30000..32756"),
    (["lab.up"], "namespace: Bad_NS\n", "namespace: 'Bad_NS' is not a Kubernetes namespace name"),
    (["lab.up"], "offline: maybe\n", "offline: 'maybe' is not allowed; choose one of: auto, true, false"),
    (["lab.up"], "kubernetes: '1.34'\n", "kubernetes: '1.34' is not a version like v1.34.2"),
    (["lab.up"], "provider: existing\ncontext: x\nselector: 'a b'\n", "selector: 'a b' is not a label selector"),
    (["lab.up"], "registry: http://x\n", "registry: 'http://x' is not a registry like"),
    (["lab.up"], "mirrors: [1, 2]\n", "mirror: 1 is not FROM=TO"),
    (["lab.up"], "lock: 5\n", "lock: 5 is not a file path"),
    (["lab.up"], "node_containerd: 1.6\n", "node_containerd: '1.6' is not allowed; choose one of: 2, 1.7"),
    (["lab.up"], "adopt: sure\n", "adopt: 'sure' is not allowed; choose one of: true, false"),
    (["lab.up"], "image_delivery: ftp\n", "image_delivery: 'ftp' is not allowed; choose one of: registry, load"),
    (["lab.up"], "results_dir: null\n", "results_dir: None is not a folder path"),
    (["lab.up"], "results_dir: ''\n", "results_dir: '' is not a folder path"),
    (["lab.status"], 'name: "lab\\n"\n', "name: 'lab\\n' is not lower-case letters"),
    (["lab.up"], 'namespace: "wasm-lab\\n"\n', "namespace: 'wasm-lab\\n' is not a Kubernetes namespace name"),
    (["lab.up"], 'kubernetes: "v1.34.2\\n"\n', "kubernetes: 'v1.34.2\\n' is not a version like v1.34.2"),
    (["lab.up"], "kit_from: 'http://[::1'\n", "kit_from: 'http://[::1' is neither a file nor an http(s) URL"),
    (["lab.up"], 'kit_from: "http://trainer:8780/\\n"\n', "kit_from: 'http://trainer:8780/\\n' is neither a file nor"),
    # environment and files beside the config
    (["lab.up", "--env", "WASM_LAB_STATE_DIR="], "", "WASM_LAB_STATE_DIR: empty; unset it or name a folder"),
    (["kit.status", "--env", "WASM_LAB_KIT_DIR="], "", "WASM_LAB_KIT_DIR: empty; unset it or name a folder"),
    (["lab.plan", "--env", "WASM_LAB_DOWNLOAD_DIR="], "", "WASM_LAB_DOWNLOAD_DIR: empty; unset it or name a folder"),
    (["lab.up", "--offline", "--env", "WASM_LAB_KIT_DIR="], "", "WASM_LAB_KIT_DIR: empty; unset it or name a folder"),
    (["lab.up", "--env", "WASM_LAB_DOWNLOAD_DIR= "], "", "WASM_LAB_DOWNLOAD_DIR: empty; unset it or name a folder"),
    (["lab.down", "--env", "WASM_LAB_STATE_DIR="], "", "WASM_LAB_STATE_DIR: empty; unset it or name a folder"),
    (["lab.diagnose", "--env", "WASM_LAB_STATE_DIR="], "", "WASM_LAB_STATE_DIR: empty; unset it or name a folder"),
    (["lab.up", "--env", "WASM_LAB_STATE_DIR=kubeconfig"], "", "WASM_LAB_STATE_DIR: 'kubeconfig' is not a folder"),
    # (every command checks them first: lab.plan stands in for the kit and image builds that read these two)
    (["lab.plan", "--env", "WASM_LAB_DEBIAN_MIRROR=ftp://deb"], "", "WASM_LAB_DEBIAN_MIRROR: 'ftp://deb' is not an http(s) URL"),
    (["lab.plan", "--env", "WASM_LAB_EXTRA_CA_CERTS=corp.pem"], "", "WASM_LAB_EXTRA_CA_CERTS: 'corp.pem' is not a file"),
    (["lab.up", "--lock", "version: 9\n"], "", "lock: "),
    (["lab.plan", "--runtime", "wasmtime", "--lock", RUNWASI_V0_6_0_LOCK], "", "lock: "),
    (["lab.up", "--provider", "existing", "--context", "nope"], "", "context: 'nope' is not in"),
]


def run_cli(argv, monkeypatch, capsys) -> tuple[int, str]:
    program = Program(namespace=tasks.namespace, name="wasm-lab", binary="invoke")
    code = 0
    try:
        program.run(["invoke", *argv])
    except SystemExit as exited:
        code = exited.code or 0
    return code, capsys.readouterr().err


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("WASM_LAB_KIT_DIR", str(tmp_path / "kit"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "contexts": [
        {"name": "dead", "context": {"cluster": "dead", "user": "u"}}], "clusters": [
        {"name": "dead", "cluster": {"server": "https://127.0.0.1:9"}}], "users": [{"name": "u", "user": {}}]}))

    def run(argv):
        return run_cli(argv, monkeypatch, capsys)
    return run


@pytest.mark.parametrize("argv, lab_yaml, message", BAD_INPUT, ids=[" ".join(a) + (" +lab.yaml" if y else "")
                                                                     for a, y, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2_and_creates_nothing(cli, tmp_path, monkeypatch, argv, lab_yaml, message):
    argv = list(argv)
    if "--env" in argv:
        variable, _, value = argv.pop(argv.index("--env") + 1).partition("=")
        argv.remove("--env")
        monkeypatch.setenv(variable, value)
    if "--lock" in argv:
        (tmp_path / "lab.lock").write_text(argv.pop(argv.index("--lock") + 1))
        argv.remove("--lock")
    if lab_yaml:
        (tmp_path / "lab.yaml").write_bytes(lab_yaml if isinstance(lab_yaml, bytes) else lab_yaml.encode())
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = cli(argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_corrupt_state_file_is_one_line(cli, tmp_path):
    (tmp_path / "state" / "wasm-lab").mkdir(parents=True)
    (tmp_path / "state" / "wasm-lab" / "state.json").write_text("{not json")
    code, err = cli(["lab.status"])
    assert code == 1 and err.strip().count("\n") == 0
    assert err.startswith("error: state: ") and "cannot be read (JSONDecodeError); move it away" in err


def test_an_api_server_that_does_not_answer_is_one_line(cli):
    code, err = cli(["lab.up", "--provider", "existing", "--context", "dead"])
    assert code == 1 and err.strip().count("\n") == 0
    assert err.startswith("error: context dead: the cluster's API server does not answer")


@pytest.mark.parametrize("argv, host, why, made", [
    (["lab.up"], "unix:///nonexistent/docker.sock", "no socket there", []),  # kind's preflight, before the state
    (["lab.down"], "unix:///nonexistent/docker.sock", "the docker CLI cannot connect", ["state"]),  # kind's CLI asks
    (["images.build"], "tcp://127.0.0.1:9", "connection refused", []),
])
def test_docker_not_answering_is_said_in_words_with_what_to_run(cli, tmp_path, monkeypatch, argv, host, why, made):
    """Not the user's input (exit 1), and not the docker library's text: what is wrong and what to run."""
    monkeypatch.setenv("DOCKER_HOST", host)
    code, err = cli(argv)
    assert code == 1 and err.strip() == (f"error: no Docker engine answers at {host} ({why}); start Docker, or run: "
                                         "bash hack/setup-host"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kubeconfig", *made]


def test_lab_yaml_with_every_setting_wrong_names_the_first(cli, tmp_path):
    (tmp_path / "lab.yaml").write_text(json.dumps({"workers": 0, "runtimes": ["spin"]}))
    code, err = cli(["lab.up"])
    assert code == 2 and err.startswith("error: runtime: 'spin' is not allowed")
    assert sorted(os.listdir(tmp_path)) == ["kubeconfig", "lab.yaml"]


def test_an_architecture_upstream_does_not_build_for_is_refused_first(cli, tmp_path, monkeypatch):
    import platform

    monkeypatch.setattr(platform, "machine", lambda: "riscv64")
    code, err = cli(["lab.up"])
    assert code == 2 and err.strip() == "error: architecture: riscv64 is not supported; wasm-lab runs on x86_64 and aarch64"
    assert sorted(os.listdir(tmp_path)) == ["kubeconfig"]


def test_checking_a_lab_that_is_not_up_is_one_line(cli, tmp_path):
    # a name no lab on this machine has: a real kind cluster named wasm-lab would be attached to
    name = f"notup-{uuid.uuid4().hex[:8]}"
    (tmp_path / "lab.yaml").write_text(f"name: {name}\n")
    code, err = cli(["workloads.check"])
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and errors == [f"error: lab {name} is not up (kind); run invoke lab.up first"]
