"""Conformance fixtures shared between the per-target tests and the cross-variant comparison."""
import importlib.util

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

    missing = [v for v in images.IMAGE_TARGETS if not images.exists(images.tag(v), client)]
    if not missing or any(row["state"] != "built" for row in kit.status()):
        yield []
        return
    folder = tmp_path_factory.mktemp("variant-images")
    spec = lab_spec.load(None, {"offline": "true", "lock": str(folder / "lab.lock")})
    resolved = artifacts.resolve(spec, (), tuple(missing))
    built = images.build(missing, images.BaseImages(resolved.base_images, identities=resolved.base_identities), log=folder / "build.log")
    yield [b.tag for b in built]
    for image in built:
        try:
            if client.images.get(image.tag).id == image.id:
                client.images.remove(image.tag)
        except docker.errors.ImageNotFound:
            pass


@pytest.fixture(scope="session")
def reference_httpbin(tmp_path_factory):
    """The reference httpbin (requirements.txt: httpbin, gunicorn) on 127.0.0.1: the external
    target when HTTPBIN_URL names none."""
    from tests.conformance.reference import ReferenceServer

    if importlib.util.find_spec("httpbin") is None or importlib.util.find_spec("gunicorn") is None:
        pytest.fail("the reference httpbin is not installed: bash hack/setup-host installs requirements.txt",
                    pytrace=False)
    server = ReferenceServer(tmp_path_factory.mktemp("reference-httpbin") / "gunicorn.log")
    try:
        server.wait_answering()
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def listed_reference_difference(request):
    """On the reference target, a test listed in reference_differences.yaml must fail (strict
    xfail: one that starts passing fails, so the list stays true); every other one must pass."""
    if "server" not in request.fixturenames:
        return
    server = request.getfixturevalue("server")
    if server.reference is None:
        return
    from tests.conformance.reference import load

    case = request.node.callspec.params.get("case")
    reason = load().reason(case.name if case is not None else request.node.originalname)
    if reason:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=f"differs from the reference: {reason}"))
