from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab import catalog, engines, httpbin_cases, report
from lab.errors import LabError
from lab.proc import console

# A connection refused or reset is tried again this many times, a second apart, before the case
# fails; the report lists the cases that needed it.
CONNECT_RETRIES = 3


def as_row(result) -> dict:
    """One case's outcome as JSON-ready data; `comparable` is what must match across variants."""
    return {"case": result.name, "passed": result.ok, "status": result.status, "seconds": round(result.seconds, 4),
            "detail": "; ".join(result.problems), "comparable": result.comparable(), "retried": result.retried,
            "retried_after": result.retried_after}


def run_variants(host: str, spec) -> dict[str, list[dict]]:
    """Every variant's cases, the variants side by side (each server is its own, and most of a
    variant's time is waiting on it: /delay alone takes half a second); rows in the spec's order."""
    def one(variant: str) -> list[dict]:
        base_url = f"http://{host}:{spec.host_port(variant)}"
        return [as_row(r) for r in httpbin_cases.run_cases(base_url, connect_retries=CONNECT_RETRIES)]

    with ThreadPoolExecutor(max_workers=max(1, len(spec.variants)), thread_name_prefix="check") as pool:
        return dict(zip(spec.variants, pool.map(one, spec.variants)))


class Check:
    name = "check"
    title = "the same requests against every variant through its NodePort, side by side"
    in_cluster = False
    records, notes = (), ()
    needs, gives = ('cluster',), ('results',)

    def execute(self, ctx):
        ctx.results = results = run_variants(ctx.cluster.check_host, ctx.spec)
        passed = sum(r["passed"] for rows in results.values() for r in rows)
        return f"{passed} of {sum(map(len, results.values()))} cases answered as expected by {len(results)} variants"

    def undo(self, ctx) -> list[str]:
        return []


class Report:
    name = "report"
    title = "the checks' and the WASI job's answers compared, shown and written; any failure fails lab.up"
    in_cluster = False
    needs, gives = ('results', 'jobs'), ()
    records, notes = (), ()

    def execute(self, ctx):
        results = ctx.results
        every = catalog.load()
        variants = every.variants
        ran_on = engines.of_variants(results, ctx.state)
        report.show(results, {v: variants[v].execution_label for v in results},
                    engines={v: engines.label(e) for v, e in ran_on.items()})
        judged_before = f" (judged at {ctx.jobs_judged_at}; the same Jobs since, not run again)" \
            if ctx.jobs_judged_at else ""
        if ctx.jobs:
            report.show(ctx.jobs, {r: variants[every.jobs[r].like].execution_label for r in ctx.jobs},
                        title=f"WASI job: runner × case{judged_before}")
        retried = [f"{v}/{r['case']} ({r['retried_after']})" for v, rows in results.items() for r in rows
                   if r["retried"]]
        if retried:
            console.print(f"{len(retried)} case(s) answered only after reconnecting: {', '.join(retried)}",
                          soft_wrap=True)
        json_path, junit_path = report.write(results, Path(ctx.spec.results_dir), {
            "lab": ctx.spec.name, "runtimes": list(ctx.spec.runtimes), "timings": ctx.timings,
            "execution": {v: variants[v].execution for v in results}, "engines": ran_on,
            "jobs_judged_at": ctx.jobs_judged_at or None}, jobs=ctx.jobs)
        failed = report.failures(results) + report.failures(ctx.jobs)
        if failed:
            raise LabError(f"{failed} check(s) failed; details in {json_path} and {junit_path}")
        jobs = f" and the WASI job on {len(ctx.jobs)} runners{judged_before}" if ctx.jobs else ""
        return f"all checks passed on {len(results)} variants{jobs}; {json_path}, {junit_path}"

    def undo(self, ctx) -> list[str]:
        return []  # the results in results_dir are the user's
