"""Conformance fixtures shared between the per-target tests and the cross-variant comparison."""
import pytest


@pytest.fixture(scope="session")
def httpbin_results():
    """target name -> list of lab.httpbin_cases.Result, filled as targets run (test_httpbin.py
    runs before test_httpbin_variants.py)."""
    return {}


@pytest.fixture(scope="session", autouse=True)
def variant_images(tmp_path_factory):
    """Every variant image the targets run, whatever an earlier run left: the missing ones are
    built offline from the kit (the same build as `images.build --offline`), and the tags made
    here are removed at the end. Without Docker or a complete kit the targets skip on their own."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception:
        yield []
        return
    from lab import artifacts, images, kit
    from lab import spec as lab_spec

    missing = [v for v in images.VARIANTS if not images.exists(images.tag(v), client)]
    if not missing or any(row["state"] != "built" for row in kit.status()):
        yield []
        return
    folder = tmp_path_factory.mktemp("variant-images")
    spec = lab_spec.load(None, {"offline": "true", "lock": str(folder / "lab.lock")})
    resolved = artifacts.resolve(spec, (), tuple(missing))
    built = images.build(missing, images.BaseImages(resolved.base_images), log=folder / "build.log")
    yield [b.tag for b in built]
    for image in built:
        try:
            if client.images.get(image.tag).id == image.id:
                client.images.remove(image.tag)
        except docker.errors.ImageNotFound:
            pass
