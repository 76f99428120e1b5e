"""Which engine, at which version, each variant ran on: from the origin of every artifact resolved,
through the state file, to lab.status, the checks' JSON and the bench rows (tests/unit/test_bench.py)."""
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab import artifacts, catalog, engines, lifecycle
from lab.actions.check import Check, Report
from lab.kit.recipes import load_versions
from lab.lock import LockFile
from lab.mirrors import Mirrors
from lab.spec import load as load_spec
from lab.state import State

CONNECTED = ("release", "build", "debian", "registry")   # what --online takes
OFFLINE = ("kit", "debian")                              # what --offline takes
ENGINE_ARTIFACTS = ("shim-wasmtime", "shim-wasmedge", "wasmedge-libs", "base-wasmedge", "base-wasmtime",
                    "wasmtime-release", "base-rust", "base-debian")


def resolved_as(kinds: tuple[str, ...]) -> tuple[dict, dict]:
    """(artifact -> engine, artifact -> origin) as the artifacts action records them when each
    artifact came from its first origin of these kinds (nothing fetched: the resolution is set)."""
    resolver = artifacts.Resolver("auto", Mirrors(), LockFile(Path("unused")), "x86_64", "kind")
    for name in ENGINE_ARTIFACTS:
        origin = next((o for o in resolver.origins(name) if o["origin"] in kinds), None)
        if origin is not None:
            resolver.resolved[name] = (origin, None)
    return ({name: resolver.engine(name) for name in resolver.resolved},
            {name: resolver.describe(origin) for name, (origin, _) in resolver.resolved.items()})


def test_a_connected_and_an_offline_lab_say_which_engine_each_variant_ran_on():
    kit_wasmtime, kit_wasmedge = load_versions()["wasmtime"], load_versions()["wasmedge"]
    connected, offline = resolved_as(CONNECTED), resolved_as(OFFLINE)
    ran = {name: {v: engines.label(engines.of_variant(v, *found)) for v in catalog.load().variants}
           for name, found in (("connected", connected), ("offline", offline))}
    assert ran["connected"]["runtime-wasmtime"] == ran["connected"]["artifact-wasmtime"] == "wasmtime 36.0.10"
    assert ran["connected"]["embed-wasmtime"] == "wasmtime 48.0.11"   # the local build carries its input's
    assert ran["offline"]["runtime-wasmtime"] == ran["offline"]["embed-wasmtime"] == f"wasmtime {kit_wasmtime}"
    assert ran["connected"]["runtime-wasmedge"] == "wasmedge 0.14.1"
    assert ran["offline"]["runtime-wasmedge"] == ran["offline"]["embed-wasmedge-aot"] == f"wasmedge {kit_wasmedge}"
    assert ran["connected"]["runtime-crun-wasmedge"] == f"wasmedge {kit_wasmedge}"   # the wasmedge-libs bundle
    assert ran["connected"]["native"] == ran["offline"]["native"] == ""
    # every variant with an engine says one, whichever way the lab was set up
    assert all(ran[mode][v] for mode in ran for v, entry in catalog.load().variants.items() if entry.engine)
    assert engines.of_variant("runtime-wasmtime", *connected) == {
        "name": "wasmtime", "version": "36.0.10", "artifact": "shim-wasmtime", "origin": "release v0.6.1"}
    assert engines.of_variant("embed-wasmtime", *offline)["origin"] == "kit recipe wasmtime-cli"


def test_a_kit_origin_reports_the_version_the_kit_pins():
    origin = {"origin": "kit", "engine": {"name": "wasmtime", "version": "{wasmtime}"}}
    assert engines.of_origin(origin, {"wasmtime": "48.0.11"}) == {"name": "wasmtime", "version": "48.0.11"}
    assert engines.of_origin({"origin": "registry"}) is None


def test_a_variant_of_a_lab_that_recorded_no_engine_says_none():
    assert engines.of_variant("runtime-wasmtime", {}, {}) is None
    assert engines.of_variant("runtime-wasmtime", {"shim-wasmtime": None}, {}) is None
    assert engines.of_variant("no-such-variant", {"shim-wasmtime": {"name": "x", "version": "1"}}, {}) is None


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """A lab whose artifacts action recorded the connected path's engines and origins."""
    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    spec = load_spec(None, {"runtimes": ["wasmtime"], "results_dir": str(tmp_path / "results")})
    state = State(spec.name)
    found, origins = resolved_as(CONNECTED)
    state.set("artifact_engines", found)
    state.set("artifact_origins", origins)
    return spec, state


def checked_and_reported(recorded, monkeypatch, jobs=None, jobs_judged_at="", **case) -> dict:
    """Check and Report on the recorded lab, every variant answering one case as given (a FAKE
    server), the WASI Jobs' rows as given; the checks.json written."""
    spec, state = recorded
    answer = SimpleNamespace(**{"name": "get", "ok": True, "status": 200, "seconds": 0.01, "problems": [],
                                "retried": 0, "retried_after": "", "comparable": lambda: [200], **case})
    monkeypatch.setattr("lab.httpbin_cases.run_cases", lambda base_url, connect_retries: [answer])
    ctx = SimpleNamespace(spec=spec, state=state, cluster=SimpleNamespace(check_host="127.0.0.1"), jobs=jobs or {},
                          jobs_judged_at=jobs_judged_at, timings={}, results={})
    Check().execute(ctx)
    Report().execute(ctx)
    return json.loads((Path(spec.results_dir) / "checks.json").read_text())


def test_the_checks_json_says_per_variant_the_engine_and_version(recorded, monkeypatch):
    written = checked_and_reported(recorded, monkeypatch)
    assert written["engines"]["runtime-wasmtime"] == {"name": "wasmtime", "version": "36.0.10",
                                                      "artifact": "shim-wasmtime", "origin": "release v0.6.1"}
    assert written["engines"]["embed-wasmtime"]["version"] == "48.0.11"
    assert written["engines"]["native"] is None


def test_a_case_answered_only_after_reconnecting_is_named_with_what_the_client_saw(recorded, monkeypatch, capsys):
    written = checked_and_reported(recorded, monkeypatch, name="body-at-limit", seconds=2.9, retried=1,
                                   retried_after="ConnectionError: ('Connection aborted.', ConnectionResetError(104))")
    said = " ".join(capsys.readouterr().err.split())
    assert f"{len(recorded[0].variants)} case(s) answered only after reconnecting: native/body-at-limit " \
           "(ConnectionError: ('Connection aborted.', ConnectionResetError(104)))" in said
    assert written["results"]["native"][0]["retried_after"].startswith("ConnectionError: ")


def test_wasi_job_answers_of_an_earlier_lab_up_are_reported_as_such(recorded, monkeypatch, capsys):
    """An unchanged re-run (lab/settled.py) reports the Jobs' answers the last lab.up judged: the
    table, the summary and checks.json say when, and that the Jobs did not run again."""
    rows = {"native": [{"case": "exit 0: exit status", "passed": True, "status": 0, "seconds": 1.2, "retried": False,
                        "comparable": "as expected", "detail": ""}]}
    written = checked_and_reported(recorded, monkeypatch, jobs=rows, jobs_judged_at="2026-12-07 22:41:07 UTC")
    said = " ".join(capsys.readouterr().out.split())
    assert "judged at 2026-12-07 22:41:07 UTC; the same Jobs since, not run again" in said
    assert written["jobs_judged_at"] == "2026-12-07 22:41:07 UTC" and written["jobs"]["results"] == rows
    # judged by this very run: nothing said about an earlier one
    written = checked_and_reported(recorded, monkeypatch, jobs=rows)
    assert written["jobs_judged_at"] is None and "not run again" not in capsys.readouterr().out


def test_lab_status_shows_the_engine_of_each_deployed_variant(recorded, monkeypatch, capsys):
    spec, _ = recorded
    deployment = SimpleNamespace(metadata=SimpleNamespace(name="httpbin-runtime-wasmtime",
                                                          labels={"wasm-lab.dev/variant": "runtime-wasmtime"}),
                                 status=SimpleNamespace(ready_replicas=1), spec=SimpleNamespace(replicas=1))
    fake_api = SimpleNamespace(apps=SimpleNamespace(list_namespaced_deployment=lambda *a, **k: SimpleNamespace(
        items=[deployment])))
    monkeypatch.setattr(lifecycle.providers, "get", lambda name: SimpleNamespace(exists=lambda spec: True))  # FAKE
    monkeypatch.setattr(lifecycle, "Kube", lambda kubeconfig: fake_api)                                    # FAKE
    State(spec.name).set("kubeconfig", "unused")
    info = lifecycle.status(spec)
    assert info["engines"] == {"runtime-wasmtime": {"name": "wasmtime", "version": "36.0.10",
                                                    "artifact": "shim-wasmtime", "origin": "release v0.6.1"}}

    from lab.cli import lab as lab_tasks
    monkeypatch.setattr(lab_tasks.lifecycle, "status", lambda spec: info)
    lab_tasks.status.body(None)
    shown = capsys.readouterr().out
    assert "wasmtime 36.0.10" in shown and "shim-wasmtime: release v0.6.1" in shown
    lab_tasks.status.body(None, json_=True)
    assert json.loads(capsys.readouterr().out)["engines"]["runtime-wasmtime"]["version"] == "36.0.10"


def test_a_resolution_of_fewer_artifacts_keeps_what_the_others_carry(tmp_path, monkeypatch):
    from lab.actions.artifacts import ResolveArtifacts

    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    spec = load_spec(None, {"runtimes": ["wasmtime"]})
    shim = {"name": "wasmtime", "version": "36.0.10"}
    answers = [artifacts.Artifacts("auto", origins={"shim-wasmtime": "release v0.6.1", "node-image": "registry image"},
                                   engines={"shim-wasmtime": shim, "node-image": None}),
               artifacts.Artifacts("auto", origins={"node-image": "registry image"}, engines={"node-image": None})]
    monkeypatch.setattr(artifacts, "resolve", lambda *args: answers.pop(0))   # FAKE resolution, nothing fetched
    ctx = SimpleNamespace(spec=spec, state=State(spec.name))
    ResolveArtifacts().execute(ctx)
    ResolveArtifacts(with_runtimes=False, with_images=False).execute(ctx)   # what the cluster collection runs
    assert engines.of_variants(["runtime-wasmtime"], State(spec.name)) == {
        "runtime-wasmtime": {**shim, "artifact": "shim-wasmtime", "origin": "release v0.6.1"}}
