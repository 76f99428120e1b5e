"""Wasm OCI artifacts: their layout (pure), and pushing them to a real distribution registry
(Debian's docker-registry on 127.0.0.1, the same registry the lab runs in its container)."""
import hashlib
import json
import socket

import pytest
import requests

from lab import registry
from lab.errors import LabError
from tests.e2e import standins

MODULE = b"\x00asm\x01\x00\x00\x00"      # the smallest core module
COMPONENT = b"\x00asm\x0d\x00\x01\x00"   # the header of a component


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_artifact_is_one_wasm_layer_and_a_config_that_says_wasm():
    config, layer, manifest = registry.wasm_artifact(MODULE, "wasip1")
    doc = json.loads(manifest)
    assert doc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert doc["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"
    assert doc["config"]["digest"] == "sha256:" + hashlib.sha256(config).hexdigest()
    assert [(lay["mediaType"], lay["size"]) for lay in doc["layers"]] == [("application/wasm", len(MODULE))]
    assert layer == MODULE
    # runwasi reads the platform from the config: architecture "wasm" marks the artifact
    assert json.loads(config) == {"architecture": "wasm", "os": "wasip1", "layerDigests": [doc["layers"][0]["digest"]]}
    assert registry.wasm_artifact(MODULE, "wasip1") == (config, layer, manifest)  # same wasm, same digests


def test_hosts_toml_says_plain_http_at_the_pull_name():
    text = registry.hosts_toml("wasm-lab-a-registry:5000")
    assert 'server = "http://wasm-lab-a-registry:5000"' in text
    assert '[host."http://wasm-lab-a-registry:5000"]' in text


def test_a_user_registry_path_prefixes_the_repository():
    endpoint = registry.user_endpoint("localhost:5001/team/")
    assert endpoint.pull_ref("wasm-lab/httpbin", "artifact-wasmtime") == "localhost:5001/team/wasm-lab/httpbin:artifact-wasmtime"


@pytest.fixture
def local_registry(tmp_path):
    with standins.registry(tmp_path / "registry", free_port()) as host:
        yield host


def test_push_to_a_real_registry_then_pull_the_manifest_back(local_registry):
    endpoint = registry.user_endpoint(local_registry)
    digest = registry.push_wasm(endpoint, "wasm-lab/httpbin", "artifact-wasmtime", COMPONENT, "wasip2")
    got = requests.get(f"http://{local_registry}/v2/wasm-lab/httpbin/manifests/artifact-wasmtime",
                       headers={"Accept": registry.MANIFEST_MEDIA_TYPE}, timeout=10)
    assert got.status_code == 200 and got.headers["Docker-Content-Digest"] == digest
    layer = got.json()["layers"][0]["digest"]
    assert requests.get(f"http://{local_registry}/v2/wasm-lab/httpbin/blobs/{layer}", timeout=10).content == COMPONENT
    # pushing again is a no-op with the same digest (blobs already there are not uploaded twice)
    assert registry.push_wasm(endpoint, "wasm-lab/httpbin", "artifact-wasmtime", COMPONENT, "wasip2") == digest


def test_a_registry_that_does_not_answer_is_one_line():
    endpoint = registry.user_endpoint(f"127.0.0.1:{free_port()}")
    with pytest.raises(LabError, match=r"^pushing 127\.0\.0\.1:\d+/wasm-lab/httpbin:x: ConnectionError"):
        registry.push_wasm(endpoint, "wasm-lab/httpbin", "x", MODULE, "wasip1")
