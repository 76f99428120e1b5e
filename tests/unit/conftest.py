"""The unit tests' own fixture: each starts without the process's shared Docker client
(lab/docker_api.py), so a test that puts a FAKE `docker.from_env` in place is the one the lab uses."""
import pytest

from lab import docker_api


@pytest.fixture(autouse=True)
def no_shared_docker_client():
    docker_api.docker_client.cache_clear()
    yield
    docker_api.docker_client.cache_clear()
