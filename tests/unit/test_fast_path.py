"""What makes lab.up quick: the variants checked side by side (their rows still in the spec's
order). The real path is tests/e2e/test_lab.py; here the servers are FAKES."""
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from lab.actions import check
from lab.spec import load as load_spec

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_variants_are_checked_side_by_side_and_reported_in_the_specs_order(monkeypatch):
    spec = load_spec(None, {"runtimes": ["wasmedge", "wasmtime"]})
    variants = list(spec.variants)
    # every FAKE server waits until all variants are being asked at once: a check one variant after
    # another would break the barrier; the last variant answers first, so the order is the code's
    together = threading.Barrier(len(variants), timeout=10)

    def fake_run_cases(base_url, connect_retries):
        port = int(base_url.rsplit(":", 1)[1])
        variant = next(v for v in variants if spec.host_port(v) == port)
        together.wait()
        time.sleep(0.01 * (len(variants) - variants.index(variant)))
        return [SimpleNamespace(name=f"case-of-{variant}", ok=True, status=200, seconds=0.0, problems=[], retried=0,
                                retried_after="", comparable=lambda: [200])]

    monkeypatch.setattr("lab.httpbin_cases.run_cases", fake_run_cases)
    results = check.run_variants("127.0.0.1", spec)
    assert list(results) == variants
    assert [rows[0]["case"] for rows in results.values()] == [f"case-of-{v}" for v in variants]


# --- an unchanged re-run (lab/settled.py) -------------------------------------------------------

def settled_facts(**changes):
    """FAKE facts of a working lab, as settled.facts reads them from a cluster."""
    facts = {"inputs": "abc", "cluster_id": "c1", "image_ids": {"wasm-lab/httpbin:native": "sha256:1"},
             "registry_running": True, "runtime_classes": ["wasmedge"],
             "deployments": {"httpbin-native": {"generation": 1, "settled": True, "images": ["r/native"]}},
             "node lab-worker": {"containerd_started": "Sun 2026-12-06", "files": "f", "offered": {"wasmedge": True}},
             "jobs": {"wasi-job-native-exit-0": "uid-1"}}
    return {**facts, **changes}


def test_a_lab_as_recorded_has_no_differences_and_any_change_or_break_is_named():
    from lab import settled

    assert settled.differences(settled_facts(), settled_facts()) == []
    assert settled.differences(settled_facts(), settled_facts(inputs="def")) == ["inputs changed"]
    assert settled.differences(settled_facts(), settled_facts(cluster_id="c2")) == ["cluster_id changed"]
    restarted = {"containerd_started": "later", "files": "f", "offered": {"wasmedge": True}}
    assert settled.differences(settled_facts(), settled_facts(**{"node lab-worker": restarted})) == [
        "node lab-worker changed"]
    # broken the same way as recorded is still broken: never taken for a working lab
    not_ready = {"httpbin-native": {"generation": 1, "settled": False, "images": ["r/native"]}}
    assert settled.differences(settled_facts(deployments=not_ready), settled_facts(deployments=not_ready)) == [
        "deployment httpbin-native is not settled"]
    unoffered = {"containerd_started": "x", "files": "f", "offered": {"wasmedge": False}}
    assert settled.differences(settled_facts(**{"node lab-worker": unoffered}),
                               settled_facts(**{"node lab-worker": unoffered})) == [
        "lab-worker: containerd does not offer wasmedge"]
    assert settled.differences(settled_facts(), settled_facts(registry_running=False))[0] == \
        "the lab registry is not running"
    gone = {"wasm-lab/httpbin:native": None}
    assert settled.differences(settled_facts(image_ids=gone), settled_facts(image_ids=gone)) == [
        "image wasm-lab/httpbin:native is gone"]
    # a Job made again has answers nobody judged; a Job gone has none
    assert settled.differences(settled_facts(), settled_facts(jobs={"wasi-job-native-exit-0": "uid-2"})) == [
        "jobs changed"]
    no_job = {"wasi-job-native-exit-0": None}
    assert settled.differences(settled_facts(jobs=no_job), settled_facts(jobs=no_job)) == [
        "job wasi-job-native-exit-0 is gone"]


def test_the_rows_the_jobs_are_judged_by_make_a_readable_record():
    """What RunJobs leaves in ctx.jobs (jobs.judge's rows), through the state file's JSON, is a
    record an unchanged re-run can report."""
    import json

    from lab import jobs, settled

    rows = {"native": jobs.judge(0, jobs.Finished(0, jobs.EXPECTED.format(code=0), 1.5))
            + jobs.judge(3, jobs.Finished(0, "exit 3\n", 1.2), known_status=0)}
    recorded = json.loads(json.dumps({**LEFT, "jobs": rows}))
    assert settled.readable(recorded)


def test_the_jobs_fact_is_the_uid_of_every_job_the_spec_runs():
    from lab import settled

    spec = SimpleNamespace(namespace="wasm-lab", runtimes=("wasmedge",))
    listed = [SimpleNamespace(metadata=SimpleNamespace(name=name, uid=f"uid-of-{name}"))
              for name in ("wasi-job-native-exit-0", "wasi-job-native-exit-3", "wasi-job-wasmedge-exit-0",
                           "wasi-job-wasmtime-exit-0")]   # the last: a runtime this spec does not run
    kube = SimpleNamespace(batch=SimpleNamespace(  # FAKE API: the Jobs it lists
        list_namespaced_job=lambda namespace, label_selector: SimpleNamespace(items=listed)))
    assert settled.job_uids(kube, spec) == {
        "wasi-job-native-exit-0": "uid-of-wasi-job-native-exit-0", "wasi-job-native-exit-3": "uid-of-wasi-job-native-exit-3",
        "wasi-job-wasmedge-exit-0": "uid-of-wasi-job-wasmedge-exit-0", "wasi-job-wasmedge-exit-3": None}


def test_the_inputs_digest_changes_with_the_spec_and_the_lock(tmp_path, monkeypatch):
    from lab import settled

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WASM_LAB_KIT_DIR", str(tmp_path / "kit"))
    one = load_spec(None, {"runtimes": ["wasmedge"]})
    first = settled.inputs_digest(one)
    assert settled.inputs_digest(one) == first
    assert settled.inputs_digest(load_spec(None, {"runtimes": ["wasmedge", "wasmtime"]})) != first
    (tmp_path / "lab.lock").write_text("# pins\n")
    assert settled.inputs_digest(one) != first
    locked = settled.inputs_digest(one)
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "manifest.json").write_text("{}")
    assert settled.inputs_digest(one) != locked
    # what a lab.up writes itself (the pins it used, a kit_from import) is no edit made while it ran
    sources = settled.sources_digest(one)
    (tmp_path / "lab.lock").write_text("# pins of this run\n")
    (tmp_path / "kit" / "manifest.json").write_text('{"imported": true}')
    assert settled.sources_digest(one) == sources


LEFT = {"facts": {"left": "as it was"}, "images": {}, "jobs_judged_at": "then",
        "jobs": {"native": [{"case": "exit 0: exit status", "passed": True}]}}


class FakeProof:
    """FAKE settled.ProveUnchanged: says what it is told, records that it ran."""
    name, title, in_cluster, needs, gives = "unchanged", "fake proof", False, (), ("cluster", "kube", "images", "jobs")
    records, notes = (), ()
    answer = False

    def __init__(self, recorded):
        self.recorded, self.unchanged = recorded, False

    def execute(self, ctx):
        self.unchanged = FakeProof.answer
        return "proved" if self.unchanged else "changed"


@pytest.fixture
def fake_lab(tmp_path, monkeypatch):
    """lifecycle.run over FAKE actions and a FAKE provider; returns (spec, state, ran, run)."""
    from lab import lifecycle, settled
    from lab.state import State

    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    spec = load_spec(None, {"name": "fast-test"})
    ran: list[str] = []
    provider = SimpleNamespace(preflight=lambda spec: None, name="fake")
    monkeypatch.setattr("lab.providers.get", lambda name: provider)
    monkeypatch.setattr(settled, "ProveUnchanged", FakeProof)
    monkeypatch.setattr(settled, "sources_digest", lambda spec: "sources")
    monkeypatch.setattr(settled, "record", lambda ctx: LEFT)

    def action(name, needs=(), gives=(), fail=False):
        def execute(ctx):
            # the record is never there while an action may change the lab
            ran.append(f"{name} record={State(spec.name).get(settled.RECORD)}")
            if fail:
                raise RuntimeError(f"{name} broke")
            return name
        return SimpleNamespace(name=name, title=name, needs=needs, gives=gives, in_cluster=False, records=(), notes=(), execute=execute)

    monkeypatch.setattr(lifecycle, "FAST_REST", [action("check", needs=("cluster",)), action("report")])
    full = [action("cluster", gives=("cluster", "kube", "images")), action("runtimes")]

    def run(actions=None):
        return lifecycle.run(spec, actions or full, reuse_settled=True)
    return spec, State(spec.name), ran, action, run


def test_a_complete_run_leaves_the_record_and_a_proved_rerun_runs_only_the_checks(fake_lab):
    from lab import settled

    spec, state, ran, _, run = fake_lab
    FakeProof.answer = True
    run()   # nothing recorded yet: every action, and the record at the end
    assert ran == ["cluster record=None", "runtimes record=None"]
    assert state._read()[settled.RECORD] == LEFT
    ran.clear()
    run()
    assert ran == ["check record=None", "report record=None"]
    assert state._read()[settled.RECORD] == LEFT
    FakeProof.answer = False
    ran.clear()
    run()   # a difference: every action again
    assert ran == ["cluster record=None", "runtimes record=None"]


def test_a_failed_run_leaves_no_record_so_the_next_one_runs_every_action(fake_lab):
    from lab import settled

    spec, state, ran, action, run = fake_lab
    FakeProof.answer = True
    run()
    FakeProof.answer = False
    with pytest.raises(RuntimeError, match="check broke"):
        run([action("cluster", gives=("cluster", "kube", "images")), action("check", fail=True)])
    assert state._read().get(settled.RECORD) is None
    FakeProof.answer = True
    ran.clear()
    run()
    assert ran == ["cluster record=None", "runtimes record=None"]


def test_sources_edited_while_lab_up_runs_leave_no_record(fake_lab, monkeypatch):
    from lab import settled

    spec, state, ran, action, run = fake_lab
    FakeProof.answer = True

    def edit(ctx):  # the workload's source saved while its image builds from the one before
        monkeypatch.setattr(settled, "sources_digest", lambda spec: "edited")
        return "built"
    run([action("cluster", gives=("cluster", "kube", "images")), SimpleNamespace(
        name="images", title="images", needs=(), gives=(), in_cluster=False, records=(), notes=(), execute=edit)])
    assert state._read().get(settled.RECORD) is None


def test_commands_that_change_the_lab_forget_the_record(fake_lab):
    from lab import settled

    spec, state, *_ = fake_lab
    state.set(settled.RECORD, LEFT)
    settled.forget(state)
    assert state._read()[settled.RECORD] is None


def test_what_a_proved_rerun_runs_needs_only_what_the_proof_gives():
    from lab import actions, settled
    from lab.pipeline import check_sequence

    check_sequence(actions.FAST_REST, given_before=settled.ProveUnchanged.gives)
    with pytest.raises(RuntimeError, match="action check needs cluster"):
        check_sequence(actions.FAST_REST)


# --- actions side by side (lab/pipeline.py's Together) ------------------------------------------

def fake_action(name, body=lambda ctx: "done", needs=(), gives=(), undo=()):
    """A FAKE action: its body, needs, gives and undo lines as told."""
    return SimpleNamespace(name=name, title=name, needs=needs, gives=gives, in_cluster=False, records=(), notes=(), execute=body,
                           undo=lambda ctx: list(undo))


@pytest.fixture
def pipeline_ctx(tmp_path, monkeypatch):
    from lab.pipeline import Context
    from lab.state import State

    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path))
    return Context(spec=None, state=State("together-test"), provider=None)


def test_actions_together_run_side_by_side_and_each_is_recorded(pipeline_ctx):
    from lab.pipeline import Together, run_actions

    both = threading.Barrier(2, timeout=10)   # one action after the other would break it
    order = []

    def meet(name):
        def body(ctx):
            both.wait()
            order.append(name)
            return name
        return body

    run_actions(pipeline_ctx, [fake_action("first", gives=("x",)),
                               Together(fake_action("a", meet("a"), needs=("x",)), fake_action("b", meet("b"))),
                               fake_action("after", needs=("x",))])
    assert sorted(order) == ["a", "b"]
    assert set(pipeline_ctx.state._read()["actions"]) == {"first", "a", "b", "after"}
    assert set(pipeline_ctx.timings) == {"first", "a", "b", "after"}


def test_a_failure_side_by_side_is_raised_once_the_others_are_done(pipeline_ctx):
    from lab.pipeline import Together, run_actions

    def slow(ctx):
        time.sleep(0.2)
        return "slow done"

    def broke(ctx):
        raise RuntimeError("b broke")

    ran_after = []
    with pytest.raises(RuntimeError, match="b broke"):
        run_actions(pipeline_ctx, [Together(fake_action("slow", slow), fake_action("b", broke)),
                                   fake_action("after", lambda ctx: ran_after.append(1))])
    assert ran_after == []
    assert set(pipeline_ctx.state._read()["actions"]) == {"slow"}


def test_actions_together_need_nothing_from_each_other_and_are_undone_backwards(pipeline_ctx):
    from lab.pipeline import Together, check_sequence, flat

    giver, taker = fake_action("giver", gives=("x",), undo=["giver's"]), fake_action("taker", needs=("x",), undo=["taker's"])
    with pytest.raises(RuntimeError, match="action taker needs x, which no earlier action gives"):
        check_sequence([Together(giver, taker)])
    check_sequence([giver, Together(taker, fake_action("other"))])
    together = Together(giver, fake_action("other", undo=["other's"]))
    assert together.undo(pipeline_ctx) == ["other's", "giver's"]
    assert [a.name for a in flat([taker, together])] == ["taker", "giver", "other"]


def test_changes_from_threads_side_by_side_lose_nothing(pipeline_ctx):
    state = pipeline_ctx.state

    def add_many(prefix):
        for i in range(15):
            state.add("made", f"{prefix}-{i}")
            state.put("done", f"{prefix}-{i}", i)

    threads = [threading.Thread(target=add_many, args=(p,)) for p in "abcdef"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(state._read()["made"]) == len(state._read()["done"]) == 6 * 15


def fake_job_api(applied: list[dict]):
    """A FAKE API server's Jobs and pods: each applied Job has one pod whose container has ended
    with the exit code its args ask for (the Job itself not yet marked complete: the controller
    lags), and beside it the pod of an earlier Job of the same name, still terminating, exit 9."""
    from lab import jobs

    def job(body):
        name = body["metadata"]["name"]
        return SimpleNamespace(metadata=SimpleNamespace(name=name, uid=f"uid-{name}", creation_timestamp=T0),
                               status=SimpleNamespace(conditions=[]))

    def pod(body, uid, code):
        ended = SimpleNamespace(exit_code=code, finished_at=T0 + timedelta(seconds=1), reason="")
        return SimpleNamespace(
            metadata=SimpleNamespace(name=f"{body['metadata']['name']}-{uid}", owner_references=[SimpleNamespace(uid=uid)]),
            status=SimpleNamespace(phase="Running", container_statuses=[
                SimpleNamespace(name="job", state=SimpleNamespace(terminated=ended))]))

    def code_of(body):
        args = body["spec"]["template"]["spec"]["containers"][0]["args"]
        return int(args[args.index("--exit") + 1])

    def pods(namespace, label_selector):
        made = [pod(b, f"uid-{b['metadata']['name']}", code_of(b)) for b in applied]
        return SimpleNamespace(items=[pod(b, "an-earlier-job", 9) for b in applied] + made)

    def log(name, namespace, container):
        return jobs.EXPECTED.format(code=3 if "-exit-3-" in name else 0)

    return (SimpleNamespace(list_namespaced_job=lambda ns, label_selector: SimpleNamespace(items=[job(b) for b in applied])),
            SimpleNamespace(list_namespaced_pod=pods, read_namespaced_pod_log=log))


T0 = datetime(2026, 12, 7, tzinfo=timezone.utc)


def test_the_wasi_jobs_are_made_at_once_and_judged_by_their_own_pods_as_soon_as_they_end(tmp_path, monkeypatch):
    """A FAKE API server: every Job is applied before any apply returns (one after another would
    break the barrier); the wait polls more often than the lab's 2 s default and ends once each
    Job's own container has ended, before the Job is marked complete; the pod an earlier Job of the
    same name left is not read."""
    from lab import catalog, jobs
    from lab.actions.jobs import RunJobs
    from lab.kube import Kube
    from lab.state import State

    monkeypatch.setenv("WASM_LAB_STATE_DIR", str(tmp_path))
    spec = load_spec(None, {"runtimes": ["wasmedge", "wasmtime"]})
    runners = catalog.load().jobs_for(spec.runtimes)
    at_once = threading.Barrier(len(runners) * len(jobs.EXIT_CODES), timeout=10)
    applied, polled = [], []

    def apply_owned(body, lab, adopt=False, shared=False):
        if body["kind"] == "Job":
            at_once.wait()
            applied.append(body)
        return "created", None

    def wait_for(pending, timeout, message, every=2):
        polled.append(every)
        return Kube.wait_for(pending, 1, message, every=0.01)

    batch, core = fake_job_api(applied)
    kube = SimpleNamespace(apply_owned=apply_owned, delete_owned=lambda *a: False, wait_for=wait_for,
                           batch=batch, core=core)
    ctx = SimpleNamespace(spec=spec, state=State("jobs-test"), kube=kube, images={
        image: f"wasm-lab/httpbin:{image}" for image in catalog.load().job_images}, jobs={})
    said = RunJobs().execute(ctx)
    assert set(ctx.jobs) == set(runners)
    assert "every exit status and output as expected" in said, said
    assert polled and all(every < 2 for every in polled)


def test_an_interrupt_ends_the_commands_of_actions_side_by_side(pipeline_ctx, tmp_path):
    """Ctrl-C reaches the main thread only: a `kind create` another thread waits on is ended with
    it, as one action ends its own command (a FAKE create: `sleep`)."""
    import signal

    from lab import proc
    from lab.pipeline import Together

    started, ended = threading.Event(), []

    def long_create(ctx):
        started.set()
        try:
            proc.run_logged(["sleep", "60"], label="fake create", log=tmp_path / "create.log")
        except proc.CommandFailed as failed:
            ended.append(failed.returncode)
            raise
        return "made"

    def ctrl_c():
        started.wait(10)
        while not proc._long_running:
            time.sleep(0.01)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    # a suite started as a background job inherits SIGINT ignored (Python then raises nothing);
    # a user's terminal delivers it as KeyboardInterrupt
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=ctrl_c, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            Together(fake_action("cluster", long_create), fake_action("images")).execute(pipeline_ctx)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert ended == [-signal.SIGTERM]
    assert not proc._long_running


LEFT_RUNNING = r"""
import atexit, os, signal, sys, threading, types
from types import SimpleNamespace
from invoke.exceptions import Exit
from lab.cli.common import fail_on_errors
from lab.pipeline import Context, Together
from lab.state import State

class Witness:
    def __del__(self, write=os.write):  # os itself may be gone by then
        write(1, b"interpreter finalized\n")

# in a module of its own: the running thread's frame keeps this script's globals alive
sys.modules["witness"] = types.ModuleType("witness")
sys.modules["witness"].witness = Witness()
atexit.register(lambda: print("exit handlers ran", flush=True))
reading, _ = os.pipe()

def waits(ctx):
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
    os.read(reading, 1)  # never answered: still running when the process ends
    return "done"

signal.signal(signal.SIGINT, signal.default_int_handler)
action = SimpleNamespace(name="waits", title="waits", needs=(), gives=(), in_cluster=False, records=(), notes=(),
                         execute=waits)
try:
    with fail_on_errors():
        Together(action).execute(Context(spec=None, state=State("left-running"), provider=None))
except Exit as stop:  # what invoke does with it
    print(stop.message, file=sys.stderr)
    sys.exit(stop.code)
"""


def test_an_interrupt_that_leaves_an_action_running_ends_the_process_unfinalized(tmp_path):
    """A thread an interrupted Together left running that wakes while the interpreter finalizes
    makes CPython abort (lab.up exited -6 in the interrupted-run fault test). A real Python process
    with a FAKE action that never ends: Ctrl-C must end it with 130 and its one line, after the
    exit handlers (logging's flush) and without finalizing the interpreter (finalization would
    run the witness's __del__)."""
    import subprocess
    import sys

    env = {**os.environ, "WASM_LAB_STATE_DIR": str(tmp_path)}
    ended = subprocess.run([sys.executable, "-c", LEFT_RUNNING], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=60)
    assert ended.returncode == 130, ended.stdout + ended.stderr
    assert "interrupted; run the same command again to finish" in ended.stderr
    assert "exit handlers ran" in ended.stdout
    assert "interpreter finalized" not in ended.stdout


def test_images_are_pushed_a_few_at_once_and_every_push_tag_goes_again():
    """A FAKE Docker engine: pushes wait until PUSHES_AT_ONCE of them run together (one after
    another would break the barrier); the answer keeps the order of the refs."""
    from lab import registry

    refs = [f"wasm-lab/httpbin:v{i}" for i in range(registry.PUSHES_AT_ONCE)]
    together = threading.Barrier(registry.PUSHES_AT_ONCE, timeout=10)
    tagged, removed = [], []

    def push(repository, tag, stream, decode):
        together.wait()
        yield {"status": "pushed"}

    images = SimpleNamespace(get=lambda ref: SimpleNamespace(tag=lambda repo, tag: tagged.append(f"{repo}:{tag}")),
                             push=push, remove=removed.append)
    endpoint = registry.Endpoint(push="127.0.0.1:5999", pull="lab-registry:5000")
    pulled = registry.push_images(endpoint, refs, client=SimpleNamespace(images=images))
    assert pulled == [f"lab-registry:5000/{ref}" for ref in refs]
    assert sorted(removed) == sorted(tagged) == sorted(f"127.0.0.1:5999/{ref}" for ref in refs)


def fake_deployment(uid, generation=1, image="wasm-lab/httpbin:native", pods=1):
    """A FAKE Deployment as the kubernetes client lists it, settled (`pods`=2: mid-rollout, the old
    pod still there and Ready)."""
    return SimpleNamespace(
        metadata=SimpleNamespace(name="httpbin-native", uid=uid, generation=generation),
        spec=SimpleNamespace(replicas=1, template=SimpleNamespace(spec=SimpleNamespace(
            containers=[SimpleNamespace(image=image)]))),
        status=SimpleNamespace(observed_generation=generation, ready_replicas=1, updated_replicas=1, replicas=pods))


def test_a_deployment_made_again_by_hand_is_a_change_though_its_generation_starts_over():
    from lab import settled

    spec = SimpleNamespace(namespace="wasm-lab", variants=("native",))

    def read(*listed):
        kube = SimpleNamespace(apps=SimpleNamespace(list_namespaced_deployment=lambda *a, **k: SimpleNamespace(
            items=list(listed))))
        return settled.deployments(kube, spec)

    recorded = read(fake_deployment("uid-by-the-lab"))
    assert settled.differences(settled_facts(deployments=recorded), settled_facts(deployments=recorded)) == []
    # `kubectl delete` and `kubectl create` with another pod template (say, no runtimeClassName):
    # generation 1 again, the same images, settled
    again = read(fake_deployment("uid-by-hand"))
    assert settled.differences(settled_facts(deployments=recorded), settled_facts(deployments=again)) == [
        "deployments changed"]
    rolling = read(fake_deployment("uid-by-the-lab", pods=2))
    assert settled.differences(settled_facts(deployments=rolling), settled_facts(deployments=rolling)) == [
        "deployment httpbin-native is not settled"]


class FakeNode:
    """A FAKE wasm node: answers settled's one exec from the files it is told it holds."""
    name = "lab-worker"

    def __init__(self, files: dict[str, str]):
        self.files = files

    def run(self, argv, check=True):
        sums = "\n".join(f"{self.files[path]}  {path}" if path in self.files
                         else f"sha256sum: {path}: No such file or directory" for path in argv[4:])
        return SimpleNamespace(stdout=f"Sun 2026-12-06\n--- files\n{sums}\n--- dump\nversion = 2\n")


def test_a_bundle_taken_off_a_node_by_hand_is_a_change():
    from lab import node_runtimes, settled

    spec = SimpleNamespace(runtimes=("crun-wasmedge",))
    mark = f"/opt/wasm-lab/crun-wasmedge/{node_runtimes.BUNDLE_MARK}"
    placed = settled.node_facts(FakeNode({mark: "d" * 64}), spec)
    # crun-wasmedge has no files of its own: its bundle (crun with WasmEdge) is the runtime
    assert settled.node_facts(FakeNode({}), spec) != placed
    assert settled.node_facts(FakeNode({mark: "e" * 64}), spec) != placed


def test_the_record_holds_the_images_of_the_lab_as_it_is_not_every_tag_it_ever_used(monkeypatch):
    from lab import images, settled

    spec = load_spec(None, {"runtimes": ["wasmedge"]})
    asked = []
    monkeypatch.setattr(settled, "image_ids", lambda refs: asked.extend(refs) or {})
    for read in ("inputs_digest", "registry_running", "deployments", "runtime_classes", "job_uids"):
        monkeypatch.setattr(settled, read, lambda *args: None)
    # FAKE context: a lab that once ran the wasmtime variants, whose images are gone since
    removed = images.tag("runtime-wasmtime")
    ctx = SimpleNamespace(spec=spec, kube=None, cluster=SimpleNamespace(wasm_nodes=[]),
                          provider=SimpleNamespace(identity=lambda spec: "c1"),
                          state=SimpleNamespace(get=lambda key, default=None: [removed, images.tag("native")]))
    settled.facts(ctx)
    assert removed not in asked   # else "image … is gone" for ever, and never the fast path
    assert images.tag("native") in asked and images.tag("runtime-wasmedge") in asked


@pytest.mark.parametrize("recorded", [["a", "list"], {"facts": "text"}, {"facts": {}}, {"images": {}},
                                      # an older lab's record, with no Jobs' answers to report
                                      {"facts": {}, "images": {}},
                                      {"facts": {}, "images": {}, "jobs": {}, "jobs_judged_at": None},
                                      # Jobs' rows the report could not show as rows
                                      {**LEFT, "jobs": {"native": "passed"}},
                                      {**LEFT, "jobs": {"native": [{"case": "exit 0: output", "passed": "yes"}]}}])
def test_a_record_of_another_shape_is_no_record_and_every_action_runs(fake_lab, recorded):
    from lab import settled

    spec, state, ran, _, run = fake_lab
    FakeProof.answer = True
    state.set(settled.RECORD, recorded)
    run()
    assert ran == ["cluster record=None", "runtimes record=None"]


def test_a_job_whose_pod_never_ran_ends_the_wait_with_its_reason():
    """A FAKE API server: the Job failed (its deadline passed) with no pod left; the wait ends on
    the Job's condition and the run is judged with the controller's reason."""
    from lab import jobs
    from lab.kube import Kube

    failed = SimpleNamespace(type="Failed", status="True", reason="DeadlineExceeded",
                             message="Job was active longer than specified deadline")
    job = SimpleNamespace(metadata=SimpleNamespace(name="wasi-job-wasmedge-exit-0", uid="u", creation_timestamp=T0),
                          status=SimpleNamespace(conditions=[failed]))
    kube = SimpleNamespace(
        batch=SimpleNamespace(list_namespaced_job=lambda ns, label_selector: SimpleNamespace(items=[job])),
        core=SimpleNamespace(list_namespaced_pod=lambda ns, label_selector: SimpleNamespace(items=[])),
        wait_for=lambda pending, timeout, message, every=2: Kube.wait_for(pending, 1, message, every=0.01))
    finished = jobs.wait_finished(kube, "ns", ["wasi-job-wasmedge-exit-0"])["wasi-job-wasmedge-exit-0"]
    assert finished == jobs.Finished(None, "", 0.0, "DeadlineExceeded: Job was active longer than specified deadline")
    assert "DeadlineExceeded" in jobs.judge(0, finished)[0]["detail"]
