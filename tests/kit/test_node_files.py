"""DockerNode.put_files for real: several files in one archive and one command, into a kit Debian
container standing in for a kind node (lab/nodes.py)."""
from __future__ import annotations

import uuid

import pytest

from lab.nodes import DockerNode
from tests.conftest import docker_engine_or_skip, kit_artifact_or_skip

pytestmark = [pytest.mark.kit, pytest.mark.docker]


@pytest.fixture
def stand_in_node():
    docker_engine_or_skip()
    import docker

    image = kit_artifact_or_skip("debian-trixie")["image"]["ref"]
    client = docker.from_env()
    container = client.containers.run(image, ["sleep", "infinity"], name=f"wasm-lab-test-files-{uuid.uuid4().hex[:8]}",
                                      detach=True, network_mode="none", labels={"wasm-lab.dev/test": "node-files"})
    try:
        yield DockerNode(container.name, client)
    finally:
        container.remove(force=True)


def test_several_files_land_whole_with_their_modes_in_new_and_existing_folders(stand_in_node):
    node = stand_in_node
    node.put_file("/opt/kept/old.txt", b"old")
    node.put_files([("/opt/kept/old.txt", b"replaced", 0o644),
                    ("/opt/new dir/deep/install.sh", b"#!/bin/sh\necho hi\n", 0o755),
                    ("/opt/new dir/big.deb", bytes(range(256)) * 4096, 0o644)])
    assert node.read_file("/opt/kept/old.txt") == "replaced"
    assert node.run(["sh", "/opt/new dir/deep/install.sh"]).stdout == "hi\n"
    modes = node.run(["stat", "-c", "%a %s", "/opt/new dir/deep/install.sh", "/opt/new dir/big.deb"]).stdout.split("\n")
    assert modes[:2] == ["755 18", f"644 {256 * 4096}"]
    # nothing staged is left beside the targets
    assert node.run(["sh", "-c", "find /opt -name '*.wasm-lab-new' | wc -l"]).stdout.strip() == "0"
