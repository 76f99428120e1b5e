"""The lab registry's storage volume (lab/registry.py), for real: the kit's registry image run by
`registry.ensure_container` on a Docker network of the test's own. What is pushed outlives the
container, so the next lab.up's `docker push` uploads no layer the registry has; a volume made
for other base images is replaced; a same-named volume that is not the lab's is refused and
left alone. Skips, naming the artifact, when the kit's registry (or pause, the image pushed) is
not built."""
from __future__ import annotations

import uuid

import pytest
import requests

from lab import registry
from lab.errors import LabError
from tests.conftest import kit_artifact_or_skip

pytestmark = [pytest.mark.kit, pytest.mark.docker]


@pytest.fixture
def lab(docker_engine):
    """A lab name and network of the test's own; its registry container and volume go afterwards."""
    name = f"storage-test-{uuid.uuid4().hex[:8]}"
    network = docker_engine.networks.create(f"wasm-lab-test-{name}", driver="bridge")
    yield name, network.name
    registry.remove_container(name, docker_engine)
    for volume in docker_engine.volumes.list(filters={"name": registry.storage_name(name)}):
        volume.remove(force=True)
    network.remove()


def manifest_digest(endpoint: registry.Endpoint, repository: str, tag: str) -> str | None:
    response = requests.get(f"http://{endpoint.push}/v2/{repository}/manifests/{tag}", timeout=10,
                            headers={"Accept": registry.MANIFEST_MEDIA_TYPE})
    return response.headers["Docker-Content-Digest"] if response.status_code == 200 else None


def pushed_layers_said(client, ref: str, endpoint: registry.Endpoint) -> set[str]:
    """The engine's word on each layer of one push: "Pushed", or "Layer already exists"."""
    remote = f"{endpoint.push}/{ref}"
    repository, _, tag = remote.rpartition(":")
    client.images.get(ref).tag(repository, tag)
    try:
        said = {line["status"] for line in client.images.push(repository, tag, stream=True, decode=True)
                if line.get("progressDetail") == {} and line.get("id") and "status" in line}
    finally:
        client.images.remove(remote)
    return said & {"Pushed", "Layer already exists"}


def test_what_is_pushed_outlives_the_registry_container(docker_engine, lab):
    name, network = lab
    image = kit_artifact_or_skip("registry")["image"]["ref"]
    pause = kit_artifact_or_skip("pause")["image"]["ref"]
    first, created = registry.ensure_container(name, image, network, "bases-1", docker_engine)
    assert created
    digest = registry.push_wasm(first, "wasm-lab/storage", "v1", b"\0asm\x01\0\0\0", "wasip1")
    assert "Pushed" in pushed_layers_said(docker_engine, pause, first)

    assert registry.remove_container(name, docker_engine)
    assert registry.storage_kept(name, docker_engine)
    again, created = registry.ensure_container(name, image, network, "bases-1", docker_engine)
    assert created
    assert manifest_digest(again, "wasm-lab/storage", "v1") == digest
    assert pushed_layers_said(docker_engine, pause, again) == {"Layer already exists"}


def test_storage_made_for_other_base_images_is_replaced(docker_engine, lab):
    name, network = lab
    image = kit_artifact_or_skip("registry")["image"]["ref"]
    first, _ = registry.ensure_container(name, image, network, "bases-1", docker_engine)
    registry.push_wasm(first, "wasm-lab/storage", "v1", b"\0asm\x01\0\0\0", "wasip1")
    registry.remove_container(name, docker_engine)

    again, _ = registry.ensure_container(name, image, network, "bases-2", docker_engine)
    assert manifest_digest(again, "wasm-lab/storage", "v1") is None
    volume = docker_engine.volumes.get(registry.storage_name(name))
    assert volume.attrs["Labels"][registry.STORAGE_FOR] == "bases-2"


def test_a_volume_of_the_same_name_that_is_not_the_labs_is_refused_and_left_alone(docker_engine, lab):
    name, network = lab
    image = kit_artifact_or_skip("registry")["image"]["ref"]
    theirs = docker_engine.volumes.create(registry.storage_name(name), labels={"someone": "else"})
    with pytest.raises(LabError, match=f"{registry.storage_name(name)} exists and is not lab {name}'s"):
        registry.ensure_container(name, image, network, "bases-1", docker_engine)
    assert not registry.storage_kept(name, docker_engine)
    assert not registry.remove_storage(name, docker_engine)
    assert docker_engine.volumes.get(registry.storage_name(name)).attrs["Labels"] == {"someone": "else"}
    assert docker_engine.containers.list(all=True, filters={"name": registry.container_name(name)}) == []
    theirs.remove()
