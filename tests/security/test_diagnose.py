"""lab.diagnose hands out no credentials: the tarball made from a node whose containerd config
holds a registry password has no password in it, says what was redacted (REDACTED.txt, the
command's output: file, line, key, never the value), is 0600, and is gathered in a 0700 folder of
the lab's 0700 state; last-error.log is 0600 and redacted too.

The real lab.doctor.diagnose and lab.redact run here; the cluster is FAKE: a provider whose one
node (a FAKE Node) answers `containerd config dump`, journalctl and ls with canned text, whose
`kind export logs` is a canned folder, and whose kubectl answers are canned (lab.doctor.run
replaced). The real kind path of lab.diagnose is run by tests/e2e/test_lab.py."""
import io
import os
import stat
import subprocess
import tarfile

import pytest
import yaml
from invoke import Program

import tasks
from lab import doctor, providers, redact
from lab.nodes import Node, Result
from lab.providers.base import Cluster, Provider
from lab.spec import load as load_spec

PASSWORD = "hunter2-Registry-Pa55"
SECRETS = [PASSWORD, "alice-the-user", "aWRlbnRpdHktdG9rZW4", "YWxpY2U6aHVudGVyMg==", "eyJhbGciOiJSUzI1NiJ9.e30.sig",
           "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ", "kubeconfig-token-123", "proxy-pass-456"]
CONFIG_V2 = f'''version = 2
[plugins."io.containerd.grpc.v1.cri".registry.configs."registry.corp:5000".auth]
  username = "alice-the-user"
  password = "{PASSWORD}"
  auth = ""
  identitytoken = "aWRlbnRpdHktdG9rZW4"
'''
CONFIG_V3 = f'''version = 3
[plugins.'io.containerd.cri.v1.images'.registry.configs.'registry.corp'.auth]
  password = '{PASSWORD}'
'''
HOSTS_TOML = '''server = "https://registry.corp"
[host."https://registry.corp".header]
  Authorization = ["Basic YWxpY2U6aHVudGVyMg=="]
'''
KUBECONFIG = yaml.safe_dump({"users": [{"name": "u", "user": {
    "client-certificate-data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
    "client-key-data": "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ", "token": "kubeconfig-token-123"}}]})
DOCKER_CONFIG = '{"auths": {"registry.corp": {"auth": "YWxpY2U6aHVudGVyMg=="}}}'


class SecretNode(Node):
    """FAKE node: its containerd config (version 2, 3 or 4) holds a registry login."""

    def __init__(self, name, config):
        self.name, self.config = name, config

    def exec(self, argv, input=None):
        if argv[:3] == ["containerd", "config", "dump"]:
            return Result(0, self.config)
        if argv[0] == "journalctl":
            return Result(0, "level=info msg=\"PullImage\" Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig\n")
        return Result(0, "-rwxr-xr-x 1 root root 1 containerd-shim-wasmedge-v1\n")


class SecretProvider(Provider):
    """FAKE provider: two nodes (containerd config versions 2 and 3) and kind-export-like logs."""
    name = "kind"

    def attach(self, spec, state):
        return Cluster(spec.name, state.dir / "kubeconfig", "kind-x",
                       nodes=[SecretNode("x-control-plane", CONFIG_V2), SecretNode("x-worker", CONFIG_V3)])

    def collect_logs(self, spec, folder):
        node = folder / "kind-logs" / "x-worker"
        node.mkdir(parents=True)
        (node / "hosts.toml").write_text(HOSTS_TOML)
        (node / "inspect.json").write_text('[{"Config": {"Env": ["HTTP_PROXY=http://bob:proxy-pass-456@proxy:3128"]}}]')
        (node / "docker-config.json").write_text(DOCKER_CONFIG)
        return ["kind-logs"]


@pytest.fixture
def fake_cluster(monkeypatch, tmp_path, empty_cwd):
    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(providers, "get", lambda name: SecretProvider())
    monkeypatch.setattr(doctor, "run", lambda argv, check=True: subprocess.CompletedProcess(
        argv, 0, KUBECONFIG if "pods" in argv else "", ""))
    return tmp_path


def unpacked(bundle) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_the_tarball_holds_no_credential_and_says_what_it_redacted(fake_cluster):
    diagnosis = doctor.diagnose(load_spec(None, {"name": "x"}), fake_cluster / "out")
    files = unpacked(diagnosis.bundle)
    everything = b"".join(files.values())
    assert [s for s in SECRETS if s.encode() in everything] == []
    assert b'password = "REDACTED"' in files["x-control-plane/containerd-config-dump.toml"]
    assert b"password = 'REDACTED'" in files["x-worker/containerd-config-dump.toml"]
    note = files["REDACTED.txt"].decode()
    for expected in ("x-control-plane/containerd-config-dump.toml:3: username",
                     "x-control-plane/containerd-config-dump.toml:4: password",
                     "x-control-plane/containerd-config-dump.toml:6: identitytoken",
                     "x-worker/containerd-config-dump.toml:3: password",
                     "kind-logs/x-worker/hosts.toml:3: Authorization",
                     "kind-logs/x-worker/inspect.json:1: password in a URL",
                     "kind-logs/x-worker/docker-config.json:1: auth",
                     "pods.txt:5: client-key-data", "pods.txt:6: token",
                     "x-worker/containerd.log:1: Authorization"):
        assert expected in note, note
    assert "x-control-plane/containerd-config-dump.toml:5" not in note  # auth = "" holds nothing


def test_the_tarball_is_0600_and_gathered_in_private_folders(fake_cluster, monkeypatch):
    made = []
    real_mkdtemp = doctor.tempfile.mkdtemp

    def seen_mkdtemp(**kwargs):
        made.append(real_mkdtemp(**kwargs))
        return made[-1]

    monkeypatch.setattr(doctor.tempfile, "mkdtemp", seen_mkdtemp)
    diagnosis = doctor.diagnose(load_spec(None, {"name": "x"}), fake_cluster / "out")
    mode = lambda path: stat.S_IMODE(os.stat(path).st_mode)  # noqa: E731
    assert mode(diagnosis.bundle) == 0o600
    assert mode(fake_cluster / "out") == 0o700
    assert mode(fake_cluster / "state") == mode(fake_cluster / "state" / "x") == 0o700
    assert len(made) == 1 and os.path.dirname(made[0]) == str(fake_cluster / "state" / "x")
    assert not os.path.exists(made[0])  # the unredacted copy is gone
    with tarfile.open(diagnosis.bundle) as tar:
        assert {m.mode for m in tar.getmembers()} == {0o600, 0o700}


def test_a_tarball_left_readable_by_an_earlier_run_is_made_0600(fake_cluster, monkeypatch):
    monkeypatch.setattr(doctor.time, "strftime", lambda pattern: "20260101-000000")
    earlier = fake_cluster / "out" / "wasm-lab-diagnose-x-20260101-000000.tar.gz"
    earlier.parent.mkdir()
    earlier.write_bytes(b"old")
    earlier.chmod(0o644)
    assert doctor.diagnose(load_spec(None, {"name": "x"}), fake_cluster / "out").bundle == earlier
    assert stat.S_IMODE(os.stat(earlier).st_mode) == 0o600


def test_a_state_folder_made_0755_before_is_made_private(fake_cluster):
    (fake_cluster / "state" / "x").mkdir(parents=True, mode=0o755)
    os.chmod(fake_cluster / "state", 0o755)
    doctor.diagnose(load_spec(None, {"name": "x"}), fake_cluster / "out")
    assert stat.S_IMODE(os.stat(fake_cluster / "state").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(fake_cluster / "state" / "x").st_mode) == 0o700


def test_the_command_says_what_it_redacted_never_the_value(fake_cluster, capsys):
    program = Program(namespace=tasks.namespace, name="wasm-lab", binary="invoke")
    program.run(["invoke", "lab.diagnose", "--name", "x", "--output", str(fake_cluster / "out")], exit=False)
    out = capsys.readouterr().out
    assert "redacted in x-control-plane/containerd-config-dump.toml: username (line 3), password (line 4)" in out
    assert "REDACTED.txt inside lists what was redacted" in out
    assert [s for s in SECRETS if s in out] == []


def test_last_error_log_is_private_and_redacted(isolated_state):
    from lab.cli.common import one_line

    one_line("registry login failed\npassword = \"hunter2-Registry-Pa55\"", RuntimeError("x"), unexpected=True)
    log = isolated_state / "last-error.log"
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600 and stat.S_IMODE(os.stat(isolated_state).st_mode) == 0o700
    assert PASSWORD not in log.read_text() and 'password = "REDACTED"' in log.read_text()


@pytest.mark.parametrize("text, keys", [
    ('[plugins."io.containerd.grpc.v1.cri".registry.configs."r".auth]\n  password = "p4ss-word"', ["password"]),
    ("[plugins.'io.containerd.cri.v1.images'.registry.configs.'r'.auth]\n  username = 'someone'", ["username"]),
    ('auth = { username = "someone", password = "p4ss-word" }', ["username", "password"]),
    ('  authorization = "Bearer abc.def.ghi"', ["authorization"]),
    ('{"auths": {"r": {"identitytoken": "tok-en-1234"}}}', ["identitytoken"]),
    ("    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0", ["client-key-data"]),
    ("    password: kube-pass", ["password"]),
    ("GET /v2/ Authorization: Basic YWxpY2U6czNjcjN0", ["Authorization"]),
    ("token=abcdef12345 remote=1.2.3.4", ["token"]),
    ('msg="pull with bearer eyJhbGciOi.abc.def from r"', ["Bearer credential"]),
    ("  private_key: abcdef12345", ["private_key"]),
    ("x -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----", ["EC PRIVATE KEY"]),
    # kubectl describe pods' Environment and Args, journal lines cut short, YAML blocks
    ("      AWS_SECRET_ACCESS_KEY:  abcdef12345", ["AWS_SECRET_ACCESS_KEY"]),
    ("      DB_PASS:  kube-pass\n      GPG_PASSPHRASE=p4ss-word pwd=someone", ["DB_PASS", "GPG_PASSPHRASE", "pwd"]),
    ("    Args:\n      --password\n      kube-pass\n      --v=2", ["password"]),
    ("token: |\n  tok-en-1234\n  abc.def.ghi\nnext: 1", ["token", "token"]),
    ("https://bob:abc/def+p4ss-word=@registry.example/v2/", ["password in a URL"]),
    ("https://bob:someone@p4ss-word@registry.example/v2/", ["password in a URL"]),
    ("-- journal --\n-----BEGIN RSA PRIVATE KEY-----\nMHcCAQEE", ["RSA PRIVATE KEY"]),
])
def test_each_kind_of_credential_is_redacted_by_key(text, keys):
    cleaned, found = redact.text(text, "f")
    assert [r.key for r in found] == keys and redact.MARK in cleaned
    secret_words = {"p4ss-word", "someone", "abc.def.ghi", "tok-en-1234", "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0",
                    "kube-pass", "YWxpY2U6czNjcjN0", "abcdef12345", "MHcCAQEE", "eyJhbGciOi.abc.def"}
    assert [w for w in secret_words if w in cleaned] == []


@pytest.mark.parametrize("text", ['  auth = ""', "automountServiceAccountToken: false", "TokenExpirationSeconds: 3607",
                                  "--authorization-mode=Node,RBAC", '  tls_key_file = ""', "[host.\"https://r\".header]",
                                  "pulled http://wasm-lab-registry:5000/v2/httpbin@sha256:0123abcd",
                                  "    Args:\n      --v=2\n      --port=3000"])
def test_what_holds_no_credential_is_left_as_it_is(text):
    assert redact.text(text, "f") == (text, [])


def test_the_redacted_config_still_parses_as_toml():
    import tomllib

    cleaned, _ = redact.text(CONFIG_V2 + HOSTS_TOML.replace("server", "server2"), "f")
    parsed = tomllib.load(io.BytesIO(cleaned.encode()))
    assert parsed["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["configs"]["registry.corp:5000"]["auth"][
        "password"] == "REDACTED"
