"""The WASI job check's objects, verdicts and report (pure; the e2e lab runs the Jobs for real)."""
from xml.etree import ElementTree

from lab import jobs, report


def test_each_runner_runs_the_same_job_the_way_its_variant_runs():
    native = jobs.job_object("native", 3, "wasm-lab/httpbin:job-native", "ns")
    crun = jobs.job_object("crun-wasmedge", 3, "wasm-lab/httpbin:job-wasm", "ns")
    wasmtime = jobs.job_object("wasmtime", 0, "wasm-lab/httpbin:job-wasm", "ns")
    assert native["metadata"]["name"] == "wasi-job-native-exit-3" and native["metadata"]["namespace"] == "ns"
    assert "runtimeClassName" not in native["spec"]["template"]["spec"]
    assert crun["spec"]["template"]["spec"]["runtimeClassName"] == "crun-wasmedge"
    assert crun["spec"]["template"]["metadata"]["annotations"] == {"module.wasm.image/variant": "compat-smart"}
    assert wasmtime["spec"]["template"]["spec"]["runtimeClassName"] == "wasmtime"
    container = crun["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][container["args"].index("--exit") + 1] == "3"
    assert container["image"] == "wasm-lab/httpbin:job-wasm"
    assert native["spec"]["backoffLimit"] == 0 and native["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert jobs.data_object("ns")["data"]["greeting.txt"] == "hello from a mounted ConfigMap\n"


def test_a_run_is_judged_on_its_exit_status_and_its_lines():
    good = jobs.judge(3, jobs.Finished(3, jobs.EXPECTED.format(code=3), 2.5))
    assert [(r["case"], r["passed"]) for r in good] == [("exit 3: exit status", True), ("exit 3: output", True)]
    wrong = jobs.judge(3, jobs.Finished(0, jobs.EXPECTED.format(code=3).replace("unset", "=x"), 2.5))
    assert not wrong[0]["passed"] and wrong[0]["detail"] == "exit status 0, expected 3"
    assert not wrong[1]["passed"] and wrong[1]["detail"] == ("-env WASM_LAB_UNSET unset; +env WASM_LAB_UNSET =x")
    never = jobs.judge(0, jobs.Finished(None, "", 0.0, "DeadlineExceeded: Job was active longer than specified"))
    assert never[0]["detail"] == "exit status None, expected 0 (DeadlineExceeded: Job was active longer than specified)"
    assert never[1]["detail"] == "-wasi-job: a WASI command module; -args: hello from a job; " \
        "-env WASM_LAB_GREETING=hello, wasm; -env WASM_LAB_UNSET unset; -file /data/greeting.txt: hello from a " \
        "mounted ConfigMap; -file /data/missing.txt: cannot be read (NotFound)"


def test_job_results_join_the_checks_json_and_junit(tmp_path):
    http = {"native": [{"case": "get", "passed": True, "comparable": [200]}]}
    expected = {code: jobs.EXPECTED.format(code=code) for code in (0, 3)}
    results = {
        "native": jobs.judge(0, jobs.Finished(0, expected[0], 1)) + jobs.judge(3, jobs.Finished(3, expected[3], 1)),
        "crun-wasmedge": jobs.judge(0, jobs.Finished(0, expected[0], 1))
        + jobs.judge(3, jobs.Finished(3, expected[3].replace("(NotFound)", "(PermissionDenied)"), 1)),
    }
    json_path, junit_path = report.write(http, tmp_path, {"lab": "x"}, jobs=results)
    suites = ElementTree.parse(junit_path).getroot()
    assert [(s.get("name"), s.get("failures")) for s in suites] == [
        ("native", "0"), ("consistency", "0"), ("wasi-job native", "0"), ("wasi-job crun-wasmedge", "1"),
        ("wasi-job consistency", "1")]
    import json
    written = json.loads(json_path.read_text())
    assert written["failures"] == 2 and written["jobs"]["failures"] == 2
    assert written["jobs"]["consistent"]["exit 3: output"] is False


def test_a_documented_exit_status_is_held_to_exactly_that():
    """crun 1.21's WasmEdge handler ends the container with 0 whatever the module asked for."""
    from lab import catalog
    assert catalog.load().jobs["crun-wasmedge"].exit_status == 0
    assert catalog.load().jobs["wasmtime"].exit_status is None
    lines = jobs.EXPECTED.format(code=3)
    as_documented = jobs.judge(3, jobs.Finished(0, lines, 1.0), known_status=0)[0]
    assert as_documented["passed"] and as_documented["known"] and as_documented["comparable"] == "as expected"
    assert "a documented difference" in as_documented["detail"]
    as_asked = jobs.judge(3, jobs.Finished(3, lines, 1.0))[0]
    assert as_asked["comparable"] == "as expected" and "known" not in as_asked
    fixed_upstream = jobs.judge(3, jobs.Finished(3, lines, 1.0), known_status=0)[0]
    assert not fixed_upstream["passed"] and fixed_upstream["detail"] == "exit status 3, expected 0"
    asked_zero = jobs.judge(0, jobs.Finished(0, jobs.EXPECTED.format(code=0), 1.0), known_status=0)[0]
    assert asked_zero["passed"] and "known" not in asked_zero
