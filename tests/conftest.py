"""Shared fixtures. Tests that need Docker, the offline kit or a cluster skip with the reason."""
import shutil

import pytest


def docker_engine_or_skip():
    try:
        import docker

        docker.from_env().ping()
    except Exception as error:
        pytest.skip(f"no Docker engine answers ({error.__class__.__name__}); run: bash hack/setup-host")


@pytest.fixture
def docker_engine():
    docker_engine_or_skip()
    import docker

    return docker.from_env()


def kit_artifact_or_skip(name: str) -> dict:
    """The manifest entry of a built kit artifact, or a skip that says how to build it."""
    from lab import kit

    try:
        return kit.artifact(name)
    except KeyError:
        pytest.skip(f"kit artifact {name!r} is not built (invoke kit.build --only {name})")


@pytest.fixture(scope="session")
def kind_cli():
    path = shutil.which("kind")
    if path is None:
        pytest.skip("kind is not installed (bash hack/setup-host installs it)")
    return path


@pytest.fixture
def isolated_state(tmp_path, monkeypatch):
    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    """A working directory without a lab.yaml, so only the embedded defaults apply."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def kit_complete():
    """Every kit artifact built and current, so a test never starts a long kit build."""
    from lab import kit

    try:
        rows = kit.status()
    except Exception as error:
        pytest.skip(f"kit status unavailable: {error}")
    not_ready = [f"{r['name']} ({r['state']})" for r in rows if r["state"] != "built"]
    if not_ready:
        pytest.skip("offline kit not complete, build it with `invoke kit.build`: " + ", ".join(not_ready))
