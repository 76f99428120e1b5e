"""The WASI job check: the command module of workloads/httpbin/crates/wasi-job run to completion as
a Kubernetes Job by each runner (natively, and the way each runtime's RuntimeClass variant runs its
module), once asked to exit 0 and once to exit 3. Each run is judged on its exit status and on the
lines it printed (its arguments, two environment variables, a file from a mounted directory and a
missing one); lab/report.py compares the runners in the same table, JSON and JUnit as the HTTP
checks."""
from __future__ import annotations

import difflib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lab import catalog, workloads
from lab.kube import Kube

EXIT_CODES = (0, 3)
JOB_SECONDS = 180
EXPECTED = """\
wasi-job: a WASI command module
args: hello from a job
env WASM_LAB_GREETING=hello, wasm
env WASM_LAB_UNSET unset
file /data/greeting.txt: hello from a mounted ConfigMap
file /data/missing.txt: cannot be read (NotFound)
exit {code}
"""


def job_name(runner: str, code: int) -> str:
    return f"wasi-job-{runner}-exit-{code}"


def _manifests(runner: str = "", code: int = 0, image: str = "") -> list[dict]:
    return workloads.fill_manifest("job.yaml", RUNNER=runner, CODE=str(code), IMAGE=image)


def data_object(namespace: str) -> dict:
    """The ConfigMap mounted as the directory the module reads a file from."""
    data = _manifests()[0]
    data["metadata"]["namespace"] = namespace
    return data


def job_object(runner: str, code: int, image: str, namespace: str) -> dict:
    job = _manifests(runner, code, image)[1]
    job["metadata"]["namespace"] = namespace
    like = catalog.load().variants[catalog.load().jobs[runner].like]
    pod = job["spec"]["template"]
    if like.runtime_class:
        pod["spec"]["runtimeClassName"] = like.runtime_class
    if like.pod_annotations:
        pod["metadata"].setdefault("annotations", {}).update(like.pod_annotations)
    return job


@dataclass
class Finished:
    """How one Job's container ended (exit_code None: it never ran to an end, `reason` says why)."""
    exit_code: int | None
    log: str
    seconds: float
    reason: str = ""


def judge(code: int, finished: Finished, known_status: int | None = None) -> list[dict]:
    """Two rows for one run, shaped like the HTTP checks' (lab/actions/check.py): its exit status
    and its output, each with what must be the same under every runner (`comparable`). A runner
    with a documented exit status (`known_status`) is held to exactly that; its row says so."""
    expected = EXPECTED.format(code=code)
    wanted = code if known_status is None else known_status
    status_ok = finished.exit_code == wanted
    output_ok = finished.log == expected
    diff = [line for line in difflib.unified_diff(expected.splitlines(), finished.log.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    known = wanted != code and status_ok
    status_row = {
        "case": f"exit {code}: exit status", "passed": status_ok, "status": finished.exit_code,
        "seconds": round(finished.seconds, 3), "retried": False,
        # what every runner must agree on: that it ended as it should (as asked, or as documented)
        "comparable": "as expected" if status_ok else finished.exit_code,
        "detail": f"exit status {finished.exit_code} where the module asked for {code}: a documented difference "
                  "(lab/defaults/runtimes.yaml, jobs)" if known else "" if status_ok
        else f"exit status {finished.exit_code}, expected {wanted}" + (f" ({finished.reason})" if finished.reason else ""),
    }
    if known:
        status_row["known"] = True
    return [
        status_row,
        {"case": f"exit {code}: output", "passed": output_ok, "status": finished.exit_code,
         "seconds": round(finished.seconds, 3), "retried": False, "comparable": finished.log,
         "detail": "" if output_ok else "; ".join(diff[:6]) or "no output"},
    ]


SELECTOR = "app.kubernetes.io/name=wasi-job"


def wait_finished(kube: Kube, namespace: str, names: list[str], timeout: float = JOB_SECONDS) -> dict[str, Finished]:
    """Wait (bounded) until every Job's container has ended, or the Job has ended without one, then
    read each. A container's exit status and output are what is judged, and they are there seconds
    before the Job controller marks the Job complete or failed (2-3 s of every lab.up)."""
    ended: dict[str, tuple[Any, Any]] = {}

    def running() -> list[str]:
        listed: list[Any] = kube.batch.list_namespaced_job(namespace, label_selector=SELECTOR).items
        jobs = {job.metadata.name: job for job in listed}
        pods: list[Any] = kube.core.list_namespaced_pod(namespace, label_selector=SELECTOR).items
        pending = []
        for name in names:
            job = jobs.get(name)
            pod = own_pod(pods, job) if job is not None else None
            if job is not None and (_terminated(pod) is not None or _concluded(job)):
                ended[name] = (job, pod)
            else:
                pending.append(name)
        return pending

    # polled often: a job runs for a second or two once its pod starts, and lab.up waits on it
    kube.wait_for(running, timeout, "WASI jobs never finished", every=0.25)
    with ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="job") as pool:
        return dict(zip(names, pool.map(lambda name: _read(kube, namespace, *ended[name]), names)))


def own_pod(pods: list[Any], job: Any) -> Any:
    """The pod this very Job made: a Job deleted a moment ago under the same name may still have one
    terminating, with the same job-name label."""
    return next((pod for pod in pods if any(ref.uid == job.metadata.uid for ref in pod.metadata.owner_references or [])),
                None)


def _terminated(pod: Any) -> Any:
    statuses = (pod.status.container_statuses or []) if pod is not None and pod.status else []
    return next((s.state.terminated for s in statuses if s.name == "job" and s.state and s.state.terminated), None)


def _concluded(job: Any) -> bool:
    return any(c.type in ("Complete", "Failed") and c.status == "True" for c in job.status.conditions or [])


def _read(kube: Kube, namespace: str, job: Any, pod: Any) -> Finished:
    reasons = [f"{c.reason}: {c.message}" for c in job.status.conditions or [] if c.type == "Failed"]
    if pod is None:
        return Finished(None, "", 0.0, "; ".join(reasons) or "no pod was created")
    terminated = _terminated(pod)
    if terminated is None:
        return Finished(None, "", 0.0, "; ".join(reasons) or f"pod {pod.metadata.name} is {pod.status.phase}")
    log = kube.core.read_namespaced_pod_log(pod.metadata.name, namespace, container="job")
    seconds = (terminated.finished_at - job.metadata.creation_timestamp).total_seconds()
    return Finished(terminated.exit_code, log, seconds, terminated.reason or "")
